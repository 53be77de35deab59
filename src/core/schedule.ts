/**
 * When to refresh a token, and how long to wait after a failed attempt.
 * Pure functions of their inputs (random is injected) so they can be tested
 * exhaustively without a clock.
 */
import { nextQuotaDay, type UpstreamErrorKind } from "../upstream/errors.js";

export { nextQuotaDay };

export interface RefreshPolicy {
  /** Refresh this long before expiry (capped at half the lifetime for short-lived tokens). */
  marginMs: number;
  /** Up to this much earlier again, at random, so that many apps and servers do not refresh in step. */
  jitterMs: number;
}

export interface RetryPolicy {
  /** First backoff after a transient failure; doubles each attempt. */
  baseMs: number;
  /** Cap of the transient backoff. */
  maxMs: number;
  /** Wait after an error an operator must fix (IP whitelist, IP approval). */
  adminMs: number;
  /** Wait after a permanent error (wrong appid/secret, frozen account). */
  permanentMs: number;
  /** Wait after 45011 (rate limit). 45009 waits for the next quota day instead. */
  rateLimitMs: number;
}

export type { Random } from "../clock.js";
import type { Random } from "../clock.js";

/**
 * The time to refresh a token obtained at `obtainedAt` that expires at
 * `expiresAt`. Always strictly after obtainedAt and strictly before expiresAt
 * for any lifetime of at least 2 ms, whatever expires_in WeChat sent.
 */
export function planRefresh(obtainedAt: number, expiresAt: number, policy: RefreshPolicy, random: Random = Math.random): number {
  const lifetime = expiresAt - obtainedAt;
  if (lifetime <= 1) return obtainedAt;
  // Never spend more than half the lifetime as lead, so a short-lived token is
  // still used for a while, and never less than 1 ms, so refresh precedes expiry.
  const lead = Math.max(1, Math.min(policy.marginMs, Math.floor(lifetime / 2)));
  const jitter = Math.floor(random() * Math.min(policy.jitterMs, Math.floor(lead / 2)));
  return expiresAt - lead - jitter;
}

/**
 * How long to wait before the next attempt after `attempt` consecutive
 * failures (1 = the first) of the given kind. Transient failures back off
 * exponentially with full jitter; the others wait long, since retrying sooner
 * cannot help and may burn quota.
 */
export function retryDelay(
  kind: UpstreamErrorKind,
  attempt: number,
  now: number,
  policy: RetryPolicy,
  random: Random = Math.random,
  errcode?: number,
  /** A quota error's own advice (WeCom's hourly limits), used instead of the defaults below. */
  quotaRetryMs?: number,
): number {
  switch (kind) {
    case "transient": {
      const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(attempt - 1, 30));
      // "Equal jitter": at least half the ceiling, so retries never bunch at zero.
      return Math.floor(ceiling / 2 + random() * (ceiling / 2));
    }
    case "quota":
      if (quotaRetryMs !== undefined) return Math.floor(quotaRetryMs + random() * Math.min(60_000, quotaRetryMs * 0.2));
      if (errcode === 45011) return Math.floor(policy.rateLimitMs * (1 + random() * 0.2));
      // The daily quota resets at midnight China time; spread the apps over a minute.
      return nextQuotaDay(now) - now + Math.floor(random() * 60_000);
    case "admin":
      return Math.floor(policy.adminMs * (1 + random() * 0.2));
    case "permanent":
      return Math.floor(policy.permanentMs * (1 + random() * 0.2));
  }
}

/**
 * Caps a retry so that it happens before a still-valid token expires: an
 * outage is only harmless while the old token is being served. Never below
 * `floorMs`, so that retries close to expiry do not turn into a tight loop.
 */
export function capBeforeExpiry(delay: number, now: number, expiresAt: number | undefined, floorMs = 500): number {
  if (expiresAt === undefined || expiresAt <= now) return delay;
  const latest = Math.floor((expiresAt - now) * 0.9);
  return Math.min(delay, Math.max(latest, Math.min(floorMs, delay)));
}

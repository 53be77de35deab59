/**
 * When to refresh a token, and how long to wait after a failed attempt.
 * Pure functions of their inputs (random is injected) so they can be tested
 * exhaustively without a clock.
 */
import { nextQuotaDay, type UpstreamErrorKind } from "../upstream/errors.js";

export { nextQuotaDay };

export interface RefreshPolicy {
  /** Refresh this long before expiry (scaled down for short-lived tokens, see planRefresh). */
  marginMs: number;
  /** Up to this much earlier again, at random, so that many apps and servers do not refresh in step. */
  jitterMs: number;
}

/**
 * The share of a token's lifetime that margin and jitter together may take.
 * Each fetch costs quota, so a token is used for at least the first 3/4 of its
 * life; the last 1/4 is left for the refresh and its retries.
 */
const MAX_LEAD_SHARE = 0.25;

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
 * `expiresAt`: `marginMs` plus up to `jitterMs` (at most half the margin)
 * before expiry. When the two add up to more than a quarter of the lifetime
 * (a short-lived token), both shrink in proportion to fit, so the refresh
 * still falls in the token's last quarter, with some spread, rather than
 * half-way through, which would spend twice the fetches needed.
 *
 * For a lifetime of at least 4 ms the result is in
 * [obtainedAt + 3/4 lifetime, expiresAt - 1], and never earlier than
 * expiresAt - marginMs - jitterMs (stable_token relies on that: only its last
 * 5 minutes give a new token). For 2-3 ms it is expiresAt - 1.
 */
export function planRefresh(obtainedAt: number, expiresAt: number, policy: RefreshPolicy, random: Random = Math.random): number {
  const lifetime = expiresAt - obtainedAt;
  if (lifetime <= 1) return obtainedAt;
  const budget = Math.floor(lifetime * MAX_LEAD_SHARE);
  // Jitter spreads the margin, it does not replace it: at most half of it.
  const jitterMs = Math.min(policy.jitterMs, policy.marginMs / 2);
  const wanted = policy.marginMs + jitterMs;
  const scale = wanted > budget ? budget / wanted : 1;
  // At least 1 ms of lead, so that the refresh precedes expiry.
  const lead = Math.max(1, Math.floor(policy.marginMs * scale));
  const spread = Math.max(0, Math.min(Math.floor(jitterMs * scale), budget - lead));
  return expiresAt - lead - Math.floor(random() * spread);
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

/**
 * The next attempt after WeChat answered the value already held (not a new
 * one): when it keeps a value until its expiry (tickets, WeCom tokens),
 * asking again before then only spends quota, so at expiry; otherwise
 * (stable_token) halfway there, at least 30 s on, never past expiry.
 */
export function sameValueRetryAt(now: number, expiresAt: number, untilExpiry: boolean): number {
  if (untilExpiry) return expiresAt;
  return Math.min(expiresAt, now + Math.max(30_000, Math.floor((expiresAt - now) / 2)));
}

/** How long past our expiry a value WeChat keeps until its expiry may still be answered before that is a failure. */
export const SUCCESSOR_WAIT_MS = 2_000;

/**
 * A value WeChat keeps until its expiry (tickets, WeCom tokens), answered
 * again at or past its expiry by our books: WeChat counts its life from when
 * it answered the call that brought it, up to that call's latency after we
 * asked (our expiry), so the successor comes a moment later. When to ask
 * again: the time already past expiry doubled, from 100 ms on, the last
 * time at SUCCESSOR_WAIT_MS past it; undefined after that (then WeChat is
 * misbehaving: a failure).
 */
export function successorAskAt(now: number, expiresAt: number): number | undefined {
  const past = Math.max(0, now - expiresAt);
  if (past >= SUCCESSOR_WAIT_MS) return undefined;
  return Math.min(now + Math.max(100, past), expiresAt + SUCCESSOR_WAIT_MS);
}

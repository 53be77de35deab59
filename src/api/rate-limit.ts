/**
 * Per-client token buckets for ForceRefresh: each client may force a refresh
 * `perMinute` times a minute (bursting up to that many), so one misbehaving
 * service cannot drive the app's refreshes for everyone.
 */
import type { Clock } from "../clock.js";
import { QuotaGuardError } from "../core/quota-guard.js";
import type { CallInfo, Principal } from "../core/access-policy.js";

interface Bucket {
  tokens: number;
  at: number;
}

/** Above this many tracked clients, full (idle) buckets are dropped. */
const MAX_TRACKED = 10_000;

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly ratePerMs: number;

  constructor(
    private readonly perMinute: number,
    private readonly clock: Clock,
  ) {
    this.ratePerMs = perMinute / 60_000;
  }

  /** Takes one call from the client's bucket, or throws QuotaGuardError(CLIENT_RATE_LIMITED). */
  take(client: string): void {
    const now = this.clock.now();
    const b = this.refill(client, now);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return;
    }
    const wait = Math.ceil((1 - b.tokens) / this.ratePerMs);
    throw new QuotaGuardError("CLIENT_RATE_LIMITED", wait, `client ${client} is over its ForceRefresh limit of ${this.perMinute} a minute`);
  }

  tracked(): number {
    return this.buckets.size;
  }

  private refill(client: string, now: number): Bucket {
    let b = this.buckets.get(client);
    if (!b) {
      if (this.buckets.size >= MAX_TRACKED) this.prune(now);
      b = { tokens: this.perMinute, at: now };
      this.buckets.set(client, b);
      return b;
    }
    b.tokens = Math.min(this.perMinute, b.tokens + (now - b.at) * this.ratePerMs);
    b.at = now;
    return b;
  }

  private prune(now: number): void {
    for (const [key, b] of this.buckets) {
      if (b.tokens + (now - b.at) * this.ratePerMs >= this.perMinute) this.buckets.delete(key);
    }
  }
}

/** Whom a limit applies to: the authenticated name, or the peer's address for anonymous callers. */
export function clientKey(principal: Principal, call: Pick<CallInfo, "peer">): string {
  if (principal.method !== "anonymous") return `${principal.method}:${principal.name}`;
  return `peer:${call.peer.replace(/:\d+$/, "")}`;
}

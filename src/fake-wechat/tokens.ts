/**
 * The tokens the fake has issued, per app and lineage, and whether each one
 * still works. Pure bookkeeping on the injected clock: no HTTP, no quotas.
 */
import { randomBytes } from "node:crypto";
import type { Clock } from "../clock.js";

/** /cgi-bin/token and /cgi-bin/stable_token tokens never affect each other. */
export type Lineage = "token" | "stable";

export interface TokenRecord {
  readonly value: string;
  readonly appId: string;
  readonly expiresAt: number;
  /** When a newer token superseded this one, the moment it stops working (40001). */
  cutoffAt?: number;
  /** invalidate() was called: 40001 whatever the times say. */
  revoked: boolean;
}

export type TokenCheck =
  | { ok: true; record: TokenRecord }
  | { ok: false; errcode: 40001 | 40014 | 42001 };

/** Past this many records, long-dead ones are forgotten so a long demo run stays small. */
const PRUNE_ABOVE = 50_000;
const FORGET_AFTER_MS = 86_400_000;

/** ~137 chars of [A-Za-z0-9_-] behind a numeric prefix, like real tokens ("86_..."). */
function newTokenValue(): string {
  return `${80 + Math.floor(Math.random() * 10)}_${randomBytes(100).toString("base64url")}`;
}

export class TokenBook {
  private readonly byValue = new Map<string, TokenRecord>();
  /** Per app+lineage, newest first; only the first two can still be valid. */
  private readonly generations = new Map<string, TokenRecord[]>();
  /** The size at which prune() looks again: doubled after each look, so issuing stays O(1) amortized with 100,000 live tokens. */
  private pruneAt = PRUNE_ABOVE;

  constructor(
    private readonly clock: Clock,
    private readonly overlapMs: number,
  ) {}

  /** The newest token of the lineage if it still works. */
  current(appId: string, lineage: Lineage): TokenRecord | undefined {
    const newest = this.generations.get(key(appId, lineage))?.[0];
    return newest && this.check(newest.value).ok ? newest : undefined;
  }

  /**
   * Issues a new token. The previous one keeps working until its own expiry or
   * the end of the overlap, whichever is first, unless `previous` is
   * "cut-at-once" (stable_token force_refresh "invalidates the previous
   * token"). Any older one stops at once (WeChat does not document it, so the
   * fake takes the strict reading).
   */
  issue(appId: string, lineage: Lineage, lifetimeMs: number, previous: "overlap" | "cut-at-once" = "overlap"): TokenRecord {
    const now = this.clock.now();
    const k = key(appId, lineage);
    const [last, ...older] = this.generations.get(k) ?? [];
    for (const record of older) record.cutoffAt = Math.min(record.cutoffAt ?? Infinity, now);
    if (last) last.cutoffAt = Math.min(last.cutoffAt ?? Infinity, previous === "overlap" ? now + this.overlapMs : now);

    let value = newTokenValue();
    while (this.byValue.has(value)) value = newTokenValue();
    const record: TokenRecord = { value, appId, expiresAt: now + lifetimeMs, revoked: false };
    this.prune(now);
    this.byValue.set(value, record);
    this.generations.set(k, last ? [record, last] : [record]);
    return record;
  }

  /** Whether a token works now, and if not, the errcode WeChat would answer. */
  check(value: string): TokenCheck {
    const record = this.byValue.get(value);
    if (!record) return { ok: false, errcode: 40014 };
    if (record.revoked) return { ok: false, errcode: 40001 };
    const now = this.clock.now();
    // A cut-off before the natural expiry means "superseded": not latest, 40001.
    if (record.cutoffAt !== undefined && record.cutoffAt < record.expiresAt && now >= record.cutoffAt) {
      return { ok: false, errcode: 40001 };
    }
    if (now >= record.expiresAt) return { ok: false, errcode: 42001 };
    return { ok: true, record };
  }

  /** The app a token was issued to (even an invalid one), if the fake issued it. */
  ownerOf(value: string): string | undefined {
    return this.byValue.get(value)?.appId;
  }

  /** Every token of the app answers 40001 from now on, as if another caller refreshed. */
  revokeAll(appId: string): void {
    for (const record of this.byValue.values()) if (record.appId === appId) record.revoked = true;
    this.generations.delete(key(appId, "token"));
    this.generations.delete(key(appId, "stable"));
  }

  private prune(now: number): void {
    if (this.byValue.size < this.pruneAt) return;
    for (const [value, record] of this.byValue) {
      if (record.expiresAt + FORGET_AFTER_MS < now) this.byValue.delete(value);
    }
    this.pruneAt = Math.max(PRUNE_ABOVE, 2 * this.byValue.size);
  }
}

function key(appId: string, lineage: Lineage): string {
  return `${lineage}\u0000${appId}`;
}

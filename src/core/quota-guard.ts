/**
 * Our own limits on upstream calls, well inside WeChat's 2,000 a day, so that
 * no flood of ForceRefresh calls (a bug, a storm of 40001s, an attacker with a
 * valid key) can burn the quota and take the business down until midnight.
 */
import type { Clock } from "../clock.js";
import { WxTokenError } from "../errors.js";
import type { TokenStore } from "./store.js";
import { nextQuotaDay } from "./schedule.js";

export interface QuotaPolicy {
  /**
   * Upstream token calls per app per quota day (China midnight to midnight),
   * whatever the cause, that may have cost WeChat quota (credential.ts counts
   * each answered fetch, and each whose answer was lost: errors.ts, mayHaveIssued).
   */
  dailyBudget: number;
  /** Of those, how many ForceRefresh may cause. */
  forceDailyBudget: number;
  /** Least time between two upstream refreshes caused by ForceRefresh. */
  minForceIntervalMs: number;
  /** The daily budget of a ticket (JS-SDK, card, WeCom) instead of dailyBudget; default dailyBudget. */
  ticketDailyBudget?: number;
}

export type QuotaGuardLimit =
  | "DAILY_BUDGET_EXHAUSTED"
  | "FORCE_REFRESH_BUDGET_EXHAUSTED"
  | "FORCE_REFRESH_TOO_SOON"
  | "CLIENT_RATE_LIMITED"
  | "HOURLY_LIMIT_REACHED";

/** Refused by our own guard, not by WeChat; no upstream call was made. */
export class QuotaGuardError extends WxTokenError {
  override readonly name = "QuotaGuardError";
  readonly reason = "QUOTA_EXHAUSTED";
  readonly category = "exhausted";
  /** Retried like WeChat's own quota errors. */
  readonly kind = "quota" as const;
  constructor(
    /** Which of our limits refused. */
    readonly limit: QuotaGuardLimit,
    readonly retryAfterMs: number,
    message: string,
  ) {
    super(`${message}; retry in ${Math.ceil(retryAfterMs / 1000)}s`);
  }
  override metadata(): Record<string, string> {
    return { limit: this.limit };
  }
  override retryDelayMs(): number {
    return this.retryAfterMs;
  }
}

/** What is persisted so that a restart does not reset the day's count. */
export interface QuotaUsage {
  /** Start of the quota day (ms since the epoch) the counts belong to. */
  day: number;
  used: number;
  forced: number;
  /** When a ForceRefresh last went upstream, when known to other replicas. */
  lastForcedAt?: number;
}

export class AppQuota {
  private usage: QuotaUsage;
  private lastForcedAt = Number.NEGATIVE_INFINITY;

  constructor(
    /** For messages: "app wx1", "jsapi_ticket of wx1". */
    private readonly what: string,
    private readonly policy: QuotaPolicy,
    private readonly clock: Clock,
    initial?: QuotaUsage,
  ) {
    this.usage = { day: this.today(), used: 0, forced: 0 };
    if (initial) this.sync(initial);
  }

  /**
   * Takes the count other replicas keep in the shared store (read under the
   * app's refresh lock, so it includes every call made so far).
   */
  sync(shared: QuotaUsage): void {
    const { lastForcedAt, ...counts } = shared;
    if (lastForcedAt !== undefined) this.lastForcedAt = Math.max(this.lastForcedAt, lastForcedAt);
    // Never below our own count: a write of ours to the shared store may have failed.
    const u = this.current();
    if (counts.day === u.day) this.usage = { day: u.day, used: Math.max(u.used, counts.used), forced: Math.max(u.forced, counts.forced) };
  }

  /**
   * Throws QuotaGuardError if an upstream call for this reason would go over
   * a limit. `interval` false: a forced call WeChat's own answer justified (it
   * refused the value), which the minimum interval does not hold back.
   */
  check(forced: boolean, interval = true): void {
    const now = this.clock.now();
    const u = this.current();
    const untilTomorrow = nextQuotaDay(now) - now;
    if (u.used >= this.policy.dailyBudget) {
      throw new QuotaGuardError("DAILY_BUDGET_EXHAUSTED", untilTomorrow, `${this.what} used its daily budget of ${this.policy.dailyBudget} upstream calls`);
    }
    if (!forced) return;
    if (u.forced >= this.policy.forceDailyBudget) {
      throw new QuotaGuardError(
        "FORCE_REFRESH_BUDGET_EXHAUSTED",
        untilTomorrow,
        `${this.what} used its daily budget of ${this.policy.forceDailyBudget} refreshes caused by ForceRefresh`,
      );
    }
    const tooSoon = interval ? this.forceTooSoon() : undefined;
    if (tooSoon) throw tooSoon;
  }

  /** The refusal a forced refresh gets now from the minimum interval alone, if any (see stale-check.ts). */
  forceTooSoon(): QuotaGuardError | undefined {
    const wait = this.lastForcedAt + this.policy.minForceIntervalMs - this.clock.now();
    if (wait <= 0) return undefined;
    return new QuotaGuardError("FORCE_REFRESH_TOO_SOON", wait, `${this.what} was force-refreshed less than ${this.policy.minForceIntervalMs / 1000}s ago`);
  }

  /**
   * A forced refresh brought a value: the minimum interval starts. A failed
   * one does not start it: its caller still holds a value WeChat may have
   * refused, and must be able to try again as soon as WeChat answers.
   */
  succeeded(forced: boolean): void {
    if (forced) this.lastForcedAt = this.clock.now();
  }

  /** Counts one upstream call that may have cost WeChat quota. Returns the usage to persist. */
  record(forced: boolean): QuotaUsage {
    const u = this.current();
    u.used += 1;
    if (forced) u.forced += 1;
    return { ...u, ...(Number.isFinite(this.lastForcedAt) ? { lastForcedAt: this.lastForcedAt } : {}) };
  }

  used(): QuotaUsage {
    return { ...this.current() };
  }

  /** The day's budget of upstream calls (quota.dailyBudget, or ticketDailyBudget for a ticket). */
  get dailyBudget(): number {
    return this.policy.dailyBudget;
  }

  private current(): QuotaUsage {
    const day = this.today();
    if (this.usage.day !== day) this.usage = { day, used: 0, forced: 0 };
    return this.usage;
  }

  private today(): number {
    return nextQuotaDay(this.clock.now()) - 24 * 3600_000;
  }
}

const HOUR_MS = 3600_000;

/**
 * A count of upstream calls per clock hour shared by several credentials:
 * WeCom allows 100 ticket fetches an hour per agent and 400 per corp, whatever
 * the kind. Each ticket refresher checks every limit it draws from before it
 * calls, and counts the call in each.
 */
export class HourlyLimit {
  private usage: QuotaUsage;

  constructor(
    /** The store key of the count, e.g. "hour:ww1/1000002". */
    readonly key: string,
    readonly limit: number,
    /** For the refusal: "agent ww1/1000002". */
    private readonly what: string,
    private readonly clock: Clock,
    initial?: QuotaUsage,
  ) {
    this.usage = { day: this.hour(), used: 0, forced: 0 };
    if (initial) this.sync(initial);
  }

  /** Takes a count another replica (or a restart) kept; only ever upward. */
  sync(shared: QuotaUsage): void {
    const u = this.current();
    if (shared.day === u.day) u.used = Math.max(u.used, shared.used);
  }

  check(): void {
    const u = this.current();
    if (u.used >= this.limit) {
      const wait = u.day + HOUR_MS - this.clock.now();
      throw new QuotaGuardError("HOURLY_LIMIT_REACHED", wait, `${this.what} made ${this.limit} ticket fetches this hour (our limit under WeChat's)`);
    }
  }

  record(): QuotaUsage {
    const u = this.current();
    u.used += 1;
    return { ...u };
  }

  used(): number {
    return this.current().used;
  }

  private current(): QuotaUsage {
    const hour = this.hour();
    if (this.usage.day !== hour) this.usage = { day: hour, used: 0, forced: 0 };
    return this.usage;
  }

  private hour(): number {
    return Math.floor(this.clock.now() / HOUR_MS) * HOUR_MS;
  }
}

/**
 * Every budget one credential's fetches count against: its own daily budget
 * (and the ForceRefresh budget and interval) and any shared hourly limits,
 * with the counts persisted after each call (a crash loop must not reset them).
 */
export class CredentialBudgets {
  readonly daily: AppQuota;

  constructor(
    private readonly key: string,
    what: string,
    policy: QuotaPolicy,
    clock: Clock,
    private readonly store: Pick<TokenStore, "quota" | "saveQuota">,
    private readonly hourly: readonly HourlyLimit[],
  ) {
    this.daily = new AppQuota(what, policy, clock, store.quota(key));
    for (const limit of hourly) {
      const saved = store.quota(limit.key);
      if (saved) limit.sync(saved);
    }
  }

  /** Throws QuotaGuardError when a call now would go over a limit (`interval`: see AppQuota.check). */
  check(forced: boolean, interval = true): void {
    this.daily.check(forced, interval);
    for (const limit of this.hourly) limit.check();
  }

  /** Counts one call that may have cost WeChat quota, everywhere it counts. */
  count(forced: boolean): void {
    this.store.saveQuota(this.key, this.daily.record(forced));
    for (const limit of this.hourly) this.store.saveQuota(limit.key, limit.record());
  }
}

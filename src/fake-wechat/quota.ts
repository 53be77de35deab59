/**
 * Per-app counters that start again each quota period. WeChat's day and month
 * turn over at midnight in Asia/Shanghai (UTC+8, no DST), on the injected clock.
 */
import type { Clock } from "../clock.js";

const DAY_MS = 86_400_000;
const SHANGHAI_OFFSET_MS = 8 * 3_600_000;

/** Index of the Shanghai calendar day containing ms. */
export function shanghaiDay(ms: number): number {
  return Math.floor((ms + SHANGHAI_OFFSET_MS) / DAY_MS);
}

/** Index of the Shanghai calendar month containing ms. */
export function shanghaiMonth(ms: number): number {
  const d = new Date(ms + SHANGHAI_OFFSET_MS);
  return d.getUTCFullYear() * 12 + d.getUTCMonth();
}

/** A count per app that reads as zero once the period (day, month) has changed. */
export class PeriodCounter {
  private readonly counts = new Map<string, { period: number; n: number }>();

  constructor(
    private readonly clock: Clock,
    private readonly periodOf: (ms: number) => number,
  ) {}

  get(appId: string): number {
    const entry = this.counts.get(appId);
    return entry && entry.period === this.periodOf(this.clock.now()) ? entry.n : 0;
  }

  add(appId: string): void {
    this.counts.set(appId, { period: this.periodOf(this.clock.now()), n: this.get(appId) + 1 });
  }

  reset(appId: string): void {
    this.counts.delete(appId);
  }
}

/** Every quota the fake enforces, per app. */
export class QuotaBook {
  /** Successful /cgi-bin/token calls today. */
  readonly token: PeriodCounter;
  /** Successful /cgi-bin/stable_token calls today (500,000 a day). */
  readonly stable: PeriodCounter;
  /** stable_token force_refresh=true that issued a new token today. */
  readonly stableForce: PeriodCounter;
  /** clear_quota uses this month. */
  readonly clears: PeriodCounter;
  /** When each app's last force refresh issued a token (for the minimum interval). */
  readonly lastForceAt = new Map<string, number>();

  constructor(clock: Clock) {
    this.token = new PeriodCounter(clock, shanghaiDay);
    this.stable = new PeriodCounter(clock, shanghaiDay);
    this.stableForce = new PeriodCounter(clock, shanghaiDay);
    this.clears = new PeriodCounter(clock, shanghaiMonth);
  }

  /** clear_quota: the day's call counters start from zero again. */
  clearDay(appId: string): void {
    this.token.reset(appId);
    this.stable.reset(appId);
    this.stableForce.reset(appId);
  }
}

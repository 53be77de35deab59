/**
 * When a push was created, as both families read it, and the repair of
 * stored push times from the future. Stores order pushes by these times (a
 * push created earlier never replaces a later one), so a time stored from
 * beyond the clock-skew window (a forged or mis-clocked push, one taken
 * before the receiver bounded it) would make every real push after it
 * "older": a ticket refused, a tenant's authorization refused. Such times
 * are brought back to now as the platform loads, once, and logged.
 */
import type { Clock } from "../clock.js";
import type { Logger } from "../log.js";
import { repairedAnything, type PlatformStore, type RepairedTimes } from "./store.js";

/** When WeChat created the push, ms: an Open Platform's CreateTime, a WeCom suite's TimeStamp (seconds); a push without one counts as now. */
export function pushCreatedAt(fields: Record<string, string>, now: number): number {
  const created = Number(fields["TimeStamp"] ?? fields["CreateTime"]);
  return Number.isFinite(created) && created > 0 ? created * 1000 : now;
}

export class StoredTimesRepair {
  /** Not done yet: the store could not be asked (it was down); tried again at its first full reload. */
  pending = true;

  constructor(
    private readonly platformId: string,
    /** The receiver's maxClockSkewSeconds, in ms. */
    private readonly maxClockSkewMs: number,
    private readonly store: PlatformStore,
    private readonly clock: Clock,
    private readonly log: Logger,
    /** What the warning names of what was repaired (the family's words for its tenants). */
    private readonly describe: (r: RepairedTimes) => Record<string, unknown>,
  ) {}

  async run(): Promise<void> {
    // Whole seconds, as push times have: a real push created this same second is not "older".
    const now = Math.floor(this.clock.now() / 1000) * 1000;
    let repaired: RepairedTimes;
    try {
      repaired = await this.store.repairFutureTimes(this.platformId, now + this.maxClockSkewMs, now);
      this.pending = false;
    } catch (err) {
      // The store is down (the load will say so): tried again at its first full reload.
      this.log.debug({ err: (err as Error).message }, "could not check stored push times yet");
      return;
    }
    if (!repairedAnything(repaired)) return;
    this.log.warn({ ...this.describe(repaired), now: new Date(now).toISOString() }, "stored push times in the future (a forged or mis-clocked push) brought back to now");
  }
}

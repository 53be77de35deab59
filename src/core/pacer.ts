/**
 * An upstream rate ceiling, kept by planning rather than by queueing: each
 * background call (a scheduled refresh, a retry, a first fetch) reserves a
 * slot in a calendar whose slots are 1/perSecond apart, one call each, so no
 * second (and no 60-second window) of the plan ever holds more than the
 * ceiling allows, wherever the window starts. Tokens obtained together (a
 * restore, a restart after an outage) are thereby spread over the safe part
 * of their lifetime instead of all coming due in the same minute two hours later.
 *
 * Finding a free slot is near O(1): taken slots are skipped through
 * "next free" / "previous free" links with path compression (a union-find),
 * so 100,000 reservations into a crowded calendar cost about 100,000 steps,
 * not 100,000 scans.
 */

export class Pacer {
  /** Time between two slots (ms). */
  private readonly intervalMs: number;
  private readonly taken = new Set<number>();
  /** Taken slot -> a later slot that may be free. */
  private readonly nextFree = new Map<number, number>();
  /** Taken slot -> an earlier slot that may be free. */
  private readonly prevFree = new Map<number, number>();
  private sweptBelow = -Infinity;
  /**
   * Slots are numbered from the one at construction, so their numbers stay
   * small integers (V8 keeps those unboxed in a Set or Map: about 100 bytes
   * saved per planned refresh at 100,000 accounts).
   */
  private readonly base: number;

  constructor(
    readonly perSecond: number,
    /** The current time, for forgetting past slots. */
    private readonly now: () => number,
  ) {
    if (!(perSecond > 0)) throw new Error("a ceiling must be positive");
    this.intervalMs = 1000 / perSecond;
    this.base = Math.floor(now() / this.intervalMs);
  }

  /** The earliest free slot at or after `at`. */
  after(at: number): number {
    this.sweep();
    return this.take(this.findNext(this.slotAtOrAfter(at)));
  }

  /**
   * The latest free slot in [lo, preferred]: a refresh planned as late as its
   * margin allows, earlier only when later slots are taken. When the whole
   * window is taken, the earliest slot after `preferred`, but no later than
   * `latest` (the ceiling then yields to the token's life).
   */
  before(preferred: number, lo: number, latest: number): number {
    this.sweep();
    const k = this.findPrev(Math.floor(preferred / this.intervalMs) - this.base);
    if (this.time(k) >= lo) return this.take(k);
    const next = this.findNext(this.slotAtOrAfter(preferred));
    if (this.time(next) > latest) return latest;
    return this.take(next);
  }

  /** Gives back a slot no longer wanted (a plan replaced). Skip links stay: a freed slot may go unused, the ceiling still holds. */
  release(at: number): void {
    this.taken.delete(Math.round(at / this.intervalMs) - this.base);
  }

  /** Calls planned in [from, to) (tests). */
  plannedBetween(from: number, to: number): number {
    let n = 0;
    for (let k = this.slotAtOrAfter(from); this.time(k) < to; k++) if (this.taken.has(k)) n++;
    return n;
  }

  private slotAtOrAfter(at: number): number {
    return Math.ceil(at / this.intervalMs - 1e-9) - this.base;
  }

  private time(k: number): number {
    return Math.ceil((k + this.base) * this.intervalMs - 1e-9);
  }

  private take(k: number): number {
    this.taken.add(k);
    this.nextFree.set(k, k + 1);
    this.prevFree.set(k, k - 1);
    return this.time(k);
  }

  private findNext(k: number): number {
    return this.find(k, this.nextFree, 1);
  }

  private findPrev(k: number): number {
    return this.find(k, this.prevFree, -1);
  }

  private find(start: number, links: Map<number, number>, step: 1 | -1): number {
    let k = start;
    const path: number[] = [];
    while (this.taken.has(k)) {
      path.push(k);
      k = links.get(k) ?? k + step;
    }
    for (const p of path) links.set(p, k);
    return k;
  }

  /** Forgets slots in the past, now and then, so the calendar does not grow for ever. */
  private sweep(): void {
    const below = Math.floor((this.now() - 120_000) / this.intervalMs) - this.base;
    if (below - this.sweptBelow < 600_000 / this.intervalMs) return;
    this.sweptBelow = below;
    for (const k of this.taken) if (k < below) this.taken.delete(k);
    for (const map of [this.nextFree, this.prevFree]) {
      for (const k of map.keys()) if (k < below) map.delete(k);
    }
  }
}

/**
 * An upstream rate ceiling, kept by planning rather than by queueing: each
 * background call (a scheduled refresh, a retry, a first fetch) reserves a
 * slot in a calendar of one-second buckets, each holding at most `perSecond`
 * calls, so no second (and no 60-second window) of the plan ever holds more
 * than the ceiling allows. Tokens obtained together (a restore, a restart
 * after an outage) are thereby spread over the safe part of their lifetime
 * instead of all coming due in the same minute two hours later.
 *
 * Finding a free bucket is near O(1): full buckets are skipped through
 * "next free" / "previous free" links with path compression (a union-find),
 * so 100,000 reservations into a crowded calendar cost 100,000 steps, not
 * 100,000 scans.
 */

export class Pacer {
  /** Width of a bucket (ms): one second, or wider for ceilings under one call a second. */
  private readonly bucketMs: number;
  /** Calls a bucket may hold. */
  readonly capacity: number;
  private readonly count = new Map<number, number>();
  /** Full bucket -> a later bucket that may have room. */
  private readonly nextFree = new Map<number, number>();
  /** Full bucket -> an earlier bucket that may have room. */
  private readonly prevFree = new Map<number, number>();
  private sweptBelow = -Infinity;

  constructor(
    readonly perSecond: number,
    /** The current time, for forgetting past buckets. */
    private readonly now: () => number,
  ) {
    if (!(perSecond > 0)) throw new Error("a ceiling must be positive");
    this.bucketMs = Math.max(1000, Math.ceil(1000 / perSecond));
    this.capacity = Math.max(1, Math.floor((perSecond * this.bucketMs) / 1000));
  }

  /** The earliest slot at or after `at`. */
  after(at: number): number {
    this.sweep();
    return this.take(this.findNext(this.bucket(at)), at);
  }

  /**
   * The latest slot in [lo, preferred]: a refresh planned as late as its
   * margin allows, earlier only when later seconds are full. When the whole
   * window is full, the earliest slot after `preferred`, but no later than
   * `latest` (the ceiling then yields to the token's life).
   */
  before(preferred: number, lo: number, latest: number): number {
    this.sweep();
    const b = this.findPrev(this.bucket(preferred));
    if (b * this.bucketMs + this.bucketMs > lo && b >= this.bucket(lo)) return this.take(b, Math.max(lo, b * this.bucketMs));
    const next = this.findNext(this.bucket(preferred));
    if (next * this.bucketMs > latest) return latest;
    return this.take(next, preferred);
  }

  /** Gives back a slot no longer wanted (a plan replaced). Skip links stay: a freed slot may go unused, the ceiling still holds. */
  release(slot: number): void {
    const b = this.bucket(slot);
    const n = this.count.get(b);
    if (n === undefined) return;
    if (n <= 1) this.count.delete(b);
    else this.count.set(b, n - 1);
  }

  /** Calls planned in the bucket holding `at` (tests). */
  plannedAt(at: number): number {
    return this.count.get(this.bucket(at)) ?? 0;
  }

  private bucket(at: number): number {
    return Math.floor(at / this.bucketMs);
  }

  /** Reserves a place in bucket b; the slot is spread within the bucket, never before `notBefore`. */
  private take(b: number, notBefore: number): number {
    const n = this.count.get(b) ?? 0;
    this.count.set(b, n + 1);
    if (n + 1 >= this.capacity) {
      this.nextFree.set(b, b + 1);
      this.prevFree.set(b, b - 1);
    }
    const slot = b * this.bucketMs + Math.floor((n * this.bucketMs) / this.capacity);
    return Math.max(slot, Math.min(notBefore, b * this.bucketMs + this.bucketMs - 1));
  }

  private full(b: number): boolean {
    return (this.count.get(b) ?? 0) >= this.capacity;
  }

  private findNext(b: number): number {
    return this.find(b, this.nextFree, 1);
  }

  private findPrev(b: number): number {
    return this.find(b, this.prevFree, -1);
  }

  private find(start: number, links: Map<number, number>, step: 1 | -1): number {
    let b = start;
    const path: number[] = [];
    while (this.full(b)) {
      path.push(b);
      b = links.get(b) ?? b + step;
    }
    for (const p of path) links.set(p, b);
    return b;
  }

  /** Forgets buckets in the past, now and then, so the calendar does not grow for ever. */
  private sweep(): void {
    const below = this.bucket(this.now()) - 120;
    if (below - this.sweptBelow < 600) return;
    this.sweptBelow = below;
    for (const map of [this.count, this.nextFree, this.prevFree]) {
      for (const b of map.keys()) if (b < below) map.delete(b);
    }
  }
}

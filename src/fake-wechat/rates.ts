/**
 * The busiest second and the busiest minute of a stream of calls, exact: the
 * largest number of calls in any window (t - 1 s, t] and (t - 60 s, t]. A
 * window holds the most calls when it ends on a call, so checking at each
 * arrival is enough. The arrival times of the last minute sit in a ring
 * buffer (8 bytes a call: 10,000 calls/s for a minute is 4.8 MB), so each
 * call costs O(1) amortized.
 */

const SECOND_MS = 1000;
const MINUTE_MS = 60_000;

export interface RateSnapshot {
  /** Calls since the meter started or was reset. */
  calls: number;
  /** Most calls in any 1 s window. */
  busiestSecond: number;
  /** Most calls in any 60 s window (divide by 60 for calls/s over the busiest minute). */
  busiestMinute: number;
}

export class RateMeter {
  private times = new Float64Array(1024);
  /** Absolute positions (they only grow): the oldest time kept, the first within the last second, the next free slot. */
  private start = 0;
  private secondStart = 0;
  private end = 0;
  private calls = 0;
  private busiestSecond = 0;
  private busiestMinute = 0;

  record(now: number): void {
    const mask = this.times.length - 1;
    while (this.start < this.end && this.times[this.start & mask]! <= now - MINUTE_MS) this.start++;
    if (this.secondStart < this.start) this.secondStart = this.start;
    while (this.secondStart < this.end && this.times[this.secondStart & mask]! <= now - SECOND_MS) this.secondStart++;
    if (this.end - this.start === this.times.length) this.grow();
    this.times[this.end & (this.times.length - 1)] = now;
    this.end++;
    this.calls++;
    this.busiestSecond = Math.max(this.busiestSecond, this.end - this.secondStart);
    this.busiestMinute = Math.max(this.busiestMinute, this.end - this.start);
  }

  snapshot(): RateSnapshot {
    return { calls: this.calls, busiestSecond: this.busiestSecond, busiestMinute: this.busiestMinute };
  }

  /** Doubles the ring, keeping every position's slot (positions are taken modulo the length). */
  private grow(): void {
    const old = this.times;
    const next = new Float64Array(old.length * 2);
    for (let p = this.start; p < this.end; p++) next[p & (next.length - 1)] = old[p & (old.length - 1)]!;
    this.times = next;
  }
}

/**
 * One timer for every credential. 100,000 authorizers with a refresh and an
 * expiry each would be 200,000 Node timers; here they are entries of one
 * binary min-heap, and the clock holds a single timer for the earliest. An
 * entry knows its place in the heap, so moving or cancelling it is O(log n).
 */
import type { Clock, TimerHandle } from "../clock.js";

/**
 * Something the scheduler runs at a time. Its heap fields are the
 * scheduler's. A credential is one itself (and its state another), so that
 * 100,000 of them cost no extra objects or closures.
 */
export interface Schedulable {
  /** When it is due (ms since the epoch); meaningless while not scheduled. */
  heapAt: number;
  /** Its index in the heap, -1 while not scheduled. */
  heapIndex: number;
  /** Ties at the same instant run in the order they were scheduled. */
  heapSeq: number;
  fire(): void;
}

/** A function to run at a time. */
export class Task implements Schedulable {
  heapAt = 0;
  heapIndex = -1;
  heapSeq = 0;

  constructor(private readonly run: () => void) {}

  fire(): void {
    this.run();
  }
}

/** Whether it is in a scheduler's heap. */
export function isScheduled(t: Schedulable): boolean {
  return t.heapIndex >= 0;
}

/** Tasks run per turn of the event loop when many are due at once (a backlog), so serving is never starved. */
const BATCH = 500;

export class Scheduler {
  private readonly heap: Schedulable[] = [];
  private timer: TimerHandle | undefined;
  /** When the timer is armed for (Infinity: not armed). */
  private armedAt = Infinity;
  private seq = 0;
  private stopped = false;

  constructor(private readonly clock: Clock) {}

  /** Runs `task` at `at` (moves it when already scheduled). */
  schedule(task: Schedulable, at: number): void {
    if (this.stopped) return;
    task.heapAt = at;
    task.heapSeq = this.seq++;
    if (task.heapIndex < 0) {
      task.heapIndex = this.heap.length;
      this.heap.push(task);
    }
    this.up(task.heapIndex);
    this.down(task.heapIndex);
    if (at < this.armedAt) this.arm();
  }

  cancel(task: Schedulable): void {
    const i = task.heapIndex;
    if (i < 0) return;
    const last = this.heap.pop()!;
    task.heapIndex = -1;
    if (last !== task) {
      this.heap[i] = last;
      last.heapIndex = i;
      this.up(i);
      this.down(i);
    }
    // The timer stays armed: when it fires with nothing due it re-arms for the new earliest.
  }

  /** How many tasks are scheduled. */
  get size(): number {
    return this.heap.length;
  }

  /** The earliest due time, if any (tests, status). */
  nextAt(): number | undefined {
    return this.heap[0]?.heapAt;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.armedAt = Infinity;
    for (const t of this.heap) t.heapIndex = -1;
    this.heap.length = 0;
  }

  private arm(): void {
    if (this.timer) this.clock.clearTimeout(this.timer);
    const top = this.heap[0];
    if (!top || this.stopped) {
      this.timer = undefined;
      this.armedAt = Infinity;
      return;
    }
    this.armedAt = top.heapAt;
    this.timer = this.clock.setTimeout(() => this.fire(), top.heapAt - this.clock.now());
  }

  private fire(): void {
    this.timer = undefined;
    this.armedAt = Infinity;
    const now = this.clock.now();
    for (let n = 0; n < BATCH; n++) {
      const top = this.heap[0];
      if (!top || top.heapAt > now) break;
      this.cancel(top);
      try {
        top.fire();
      } catch {
        // A task's failure is its own business (each logs what it does); the others still run.
      }
    }
    this.arm();
  }

  private less(a: Schedulable, b: Schedulable): boolean {
    return a.heapAt < b.heapAt || (a.heapAt === b.heapAt && a.heapSeq < b.heapSeq);
  }

  private up(i: number): void {
    const h = this.heap;
    const t = h[i]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(t, h[p]!)) break;
      h[i] = h[p]!;
      h[i]!.heapIndex = i;
      i = p;
    }
    h[i] = t;
    t.heapIndex = i;
  }

  private down(i: number): void {
    const h = this.heap;
    const n = h.length;
    const t = h[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && this.less(h[r]!, h[l]!) ? r : l;
      if (!this.less(h[c]!, t)) break;
      h[i] = h[c]!;
      h[i]!.heapIndex = i;
      i = c;
    }
    h[i] = t;
    t.heapIndex = i;
  }
}

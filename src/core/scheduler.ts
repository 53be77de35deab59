/**
 * One timer for every credential. 100,000 authorizers with a refresh and an
 * expiry each would be 200,000 Node timers; here they are entries of one
 * binary min-heap, and the clock holds a single timer for the earliest. An
 * entry knows its place in the heap, so moving or cancelling it is O(log n).
 */
import type { Clock, TimerHandle } from "../clock.js";

/** Something the scheduler runs at a time. Its fields are the scheduler's. */
export class Task {
  /** When it is due (ms since the epoch); meaningless while not scheduled. */
  at = 0;
  /** Its index in the heap, -1 while not scheduled. */
  slot = -1;
  /** Ties at the same instant run in the order they were scheduled. */
  seq = 0;

  constructor(readonly run: () => void) {}

  get scheduled(): boolean {
    return this.slot >= 0;
  }
}

/** Tasks run per turn of the event loop when many are due at once (a backlog), so serving is never starved. */
const BATCH = 500;

export class Scheduler {
  private readonly heap: Task[] = [];
  private timer: TimerHandle | undefined;
  /** When the timer is armed for (Infinity: not armed). */
  private armedAt = Infinity;
  private seq = 0;
  private stopped = false;

  constructor(private readonly clock: Clock) {}

  /** Runs `task` at `at` (moves it when already scheduled). */
  schedule(task: Task, at: number): void {
    if (this.stopped) return;
    task.at = at;
    task.seq = this.seq++;
    if (task.slot < 0) {
      task.slot = this.heap.length;
      this.heap.push(task);
    }
    this.up(task.slot);
    this.down(task.slot);
    if (at < this.armedAt) this.arm();
  }

  cancel(task: Task): void {
    const i = task.slot;
    if (i < 0) return;
    const last = this.heap.pop()!;
    task.slot = -1;
    if (last !== task) {
      this.heap[i] = last;
      last.slot = i;
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
    return this.heap[0]?.at;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.armedAt = Infinity;
    for (const t of this.heap) t.slot = -1;
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
    this.armedAt = top.at;
    this.timer = this.clock.setTimeout(() => this.fire(), top.at - this.clock.now());
  }

  private fire(): void {
    this.timer = undefined;
    this.armedAt = Infinity;
    const now = this.clock.now();
    for (let n = 0; n < BATCH; n++) {
      const top = this.heap[0];
      if (!top || top.at > now) break;
      this.cancel(top);
      try {
        top.run();
      } catch {
        // A task's failure is its own business (each logs what it does); the others still run.
      }
    }
    this.arm();
  }

  private less(a: Task, b: Task): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  private up(i: number): void {
    const h = this.heap;
    const t = h[i]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(t, h[p]!)) break;
      h[i] = h[p]!;
      h[i]!.slot = i;
      i = p;
    }
    h[i] = t;
    t.slot = i;
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
      h[i]!.slot = i;
      i = c;
    }
    h[i] = t;
    t.slot = i;
  }
}

/**
 * Time, injected: the Clock interface and the system clock live in the client
 * package (the client schedules too); the FakeClock tests drive lives here.
 */
import type { Clock, TimerHandle } from "@wxtoken/client";

export { systemClock, type Clock, type Random, type TimerHandle } from "@wxtoken/client";

interface FakeTimer {
  id: number;
  at: number;
  fn: () => void;
}

/**
 * A clock for tests: time moves only when advance() is called, and timers due
 * by then fire in order (each seeing now() equal to its own due time).
 */
export class FakeClock implements Clock {
  private current: number;
  private timers: FakeTimer[] = [];
  private nextId = 1;

  constructor(start = Date.UTC(2026, 0, 1, 0, 0, 0)) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const timer = { id: this.nextId++, at: this.current + Math.max(0, ms), fn };
    this.timers.push(timer);
    return timer;
  }

  clearTimeout(handle: TimerHandle): void {
    this.timers = this.timers.filter((t) => t !== handle);
  }

  /** Number of timers still pending. */
  pending(): number {
    return this.timers.length;
  }

  /**
   * Moves time forward by ms, firing due timers in order. Yields to the event
   * loop after each timer so that the promise chains they start can settle.
   */
  async advance(ms: number): Promise<void> {
    const target = this.current + ms;
    for (;;) {
      const due = this.timers
        .filter((t) => t.at <= target)
        .sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (!due) break;
      this.timers = this.timers.filter((t) => t !== due);
      this.current = Math.max(this.current, due.at);
      due.fn();
      await settle();
    }
    this.current = target;
    await settle();
  }

  /** Moves time forward to the instant `at` (see advance). */
  advanceTo(at: number): Promise<void> {
    return this.advance(Math.max(0, at - this.current));
  }

  /** Sets the time without firing timers (for a restart that "happened later"). */
  set(ms: number): void {
    this.current = ms;
  }
}

/** Lets pending promise callbacks and I/O callbacks run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

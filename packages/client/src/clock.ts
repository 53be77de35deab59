/**
 * Time, injected. Everything that schedules or compares times takes a Clock,
 * so refresh timing is tested with a fake clock instead of sleeps (the
 * server's FakeClock implements this interface).
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Runs fn after ms milliseconds; returns a handle for clearTimeout. */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/** Randomness, injected like time (jitter): returns a number in [0, 1), like Math.random. */
export type Random = () => number;

export type TimerHandle = { readonly __timer: unique symbol } | object;

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, Math.max(0, ms));
    // A scheduled refresh must not keep the process alive on its own.
    t.unref();
    return t as unknown as TimerHandle;
  },
  clearTimeout: (handle) => clearTimeout(handle as unknown as NodeJS.Timeout),
};

import type { FakeClock } from "../../src/clock.js";

/**
 * What `p` settles to, the clock moving `stepMs` at a time while it is
 * pending: time passes while a caller waits (a refresh may wait on the clock
 * for WeChat's next value). Real I/O gets a few ms before each step.
 * `onStep` looks at the state after each step.
 */
export async function whileTicking<T>(clock: FakeClock, p: Promise<T>, opts: { stepMs?: number; maxSteps?: number; onStep?: () => void } = {}): Promise<T> {
  let settled = false;
  const done = p.then(
    () => void (settled = true),
    () => void (settled = true),
  );
  for (let i = 0; i < (opts.maxSteps ?? 400); i++) {
    await Promise.race([done, new Promise((resolve) => setTimeout(resolve, 5))]);
    if (settled) break;
    await clock.advance(opts.stepMs ?? 50);
    opts.onStep?.();
  }
  return p;
}

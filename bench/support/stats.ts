/** Timing and summary helpers shared by the benches and their load processes. */
import { performance } from "node:perf_hooks";

/**
 * Wall-clock milliseconds with sub-millisecond resolution. Comparable across
 * processes on one machine (both sides derive it from the same system clock),
 * which the fan-out bench relies on.
 */
export function wallMs(): number {
  return performance.timeOrigin + performance.now();
}

/** The p-th percentile (0-100) of values, nearest rank. */
export function percentile(values: ArrayLike<number>, p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export function ms(n: number): string {
  if (!Number.isFinite(n)) return "n/a";
  return n < 1 ? `${(n * 1000).toFixed(0)} µs` : n < 100 ? `${n.toFixed(2)} ms` : `${n.toFixed(0)} ms`;
}

export function perSecond(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(1)} M/s` : n >= 1e4 ? `${(n / 1e3).toFixed(1)} k/s` : `${n.toFixed(0)}/s`;
}

export function bytes(n: number): string {
  const abs = Math.abs(n);
  return abs >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : abs >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n.toFixed(0)} B`;
}

export function sleep(msToWait: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, msToWait));
}

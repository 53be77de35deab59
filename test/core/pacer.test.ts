/**
 * The upstream ceiling of a paced lane: no second, and so no 60-second
 * window, of the plan ever holds more calls than the ceiling allows, and a
 * refresh planned in a window stays in it while the window has room.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Pacer } from "../../src/core/pacer.js";

const T0 = Date.UTC(2026, 0, 1);

/** The most calls any 60 s window [t, t + 60 s) of the slots holds. */
function busiestMinute(slots: number[]): number {
  const sorted = [...slots].sort((a, b) => a - b);
  let most = 0;
  let lo = 0;
  for (let hi = 0; hi < sorted.length; hi++) {
    while (sorted[hi]! - sorted[lo]! >= 60_000) lo++;
    most = Math.max(most, hi - lo + 1);
  }
  return most;
}

describe("Pacer", () => {
  it("spreads 10,000 refreshes planned for the same instant backwards from it, at the ceiling", () => {
    const pacer = new Pacer(20, () => T0);
    const expiresAt = T0 + 7200_000;
    const preferred = expiresAt - 300_000;
    const slots = Array.from({ length: 10_000 }, () => pacer.before(preferred, T0 + 720_000, expiresAt - 1000));
    expect(Math.max(...slots)).toBeLessThanOrEqual(preferred + 999);
    // 10,000 at 20 a second: 500 seconds before the preferred time.
    expect(Math.min(...slots)).toBeGreaterThanOrEqual(preferred - 501_000);
    expect(busiestMinute(slots)).toBeLessThanOrEqual(20 * 60);
  });

  it("lets a backlog (a restore, an outage's retries) drain forward at the ceiling", () => {
    const pacer = new Pacer(50, () => T0);
    const slots = Array.from({ length: 3000 }, () => pacer.after(T0));
    expect(Math.min(...slots)).toBe(T0);
    expect(Math.max(...slots)).toBeLessThan(T0 + 60_000);
    expect(busiestMinute(slots)).toBeLessThanOrEqual(50 * 60);
    for (let s = 0; s < 60_000; s += 250) expect(pacer.plannedBetween(T0 + s, T0 + s + 1000)).toBeLessThanOrEqual(50);
  });

  it("keeps a ceiling under one call a second", () => {
    const pacer = new Pacer(0.5, () => T0);
    const slots = Array.from({ length: 10 }, () => pacer.after(T0));
    const gaps = slots.slice(1).map((s, i) => s - slots[i]!);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(2000);
  });

  it("yields to the token's life when the whole window is full: never later than `latest`", () => {
    const pacer = new Pacer(1, () => T0);
    const slots = Array.from({ length: 50 }, () => pacer.before(T0 + 10_000, T0, T0 + 20_000));
    expect(Math.max(...slots)).toBeLessThanOrEqual(T0 + 20_000);
  });

  it("never plans more than the ceiling in any 60 s window, whatever is asked (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 30 }),
        fc.array(
          fc.record({
            forward: fc.boolean(),
            at: fc.integer({ min: 0, max: 3600_000 }),
            span: fc.integer({ min: 0, max: 3600_000 }),
          }),
          { minLength: 1, maxLength: 600 },
        ),
        (ceiling, asks) => {
          const pacer = new Pacer(ceiling, () => T0);
          const slots: number[] = [];
          for (const ask of asks) {
            if (ask.forward) slots.push(pacer.after(T0 + ask.at));
            else {
              const preferred = T0 + ask.at + ask.span;
              // A latest bound far enough that the window never overflows into it.
              slots.push(pacer.before(preferred, T0 + ask.at, preferred + 10 * 3600_000));
            }
          }
          return busiestMinute(slots) <= ceiling * 60;
        },
      ),
      { numRuns: 200 },
    );
  });

  it("answers a call asked for when its slot is free at once (a retry goes now)", () => {
    const pacer = new Pacer(20, () => T0);
    expect(pacer.after(T0 + 1234)).toBe(T0 + 1250);
    expect(pacer.after(T0 + 5000)).toBe(T0 + 5000);
    expect(pacer.after(T0 + 5000)).toBe(T0 + 5050);
  });

  it("plans a refresh inside its window [lo, preferred] while the window has room (property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ lo: fc.integer({ min: 0, max: 600_000 }), len: fc.integer({ min: 1000, max: 600_000 }) }), { minLength: 1, maxLength: 300 }),
        (asks) => {
          // A ceiling high enough that no window can fill: 300 asks at 1,000 a second.
          const pacer = new Pacer(1000, () => T0);
          return asks.every(({ lo, len }) => {
            const slot = pacer.before(T0 + lo + len, T0 + lo, T0 + lo + len + 1000);
            return slot >= T0 + lo && slot <= T0 + lo + len + 999;
          });
        },
      ),
      { numRuns: 200 },
    );
  });
});

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Backoff } from "../../packages/client/src/backoff.js";

const noJitter = () => 0.5;

function delays(b: Backoff, n: number): number[] {
  return Array.from({ length: n }, () => b.next());
}

describe("Backoff", () => {
  it("doubles from initialMs up to maxMs", () => {
    const b = new Backoff({ initialMs: 1000, maxMs: 10_000, random: noJitter });
    expect(delays(b, 6)).toEqual([1000, 2000, 4000, 8000, 10_000, 10_000]);
  });

  it("starts over at initialMs after reset()", () => {
    const b = new Backoff({ initialMs: 1000, maxMs: 30_000, random: noJitter });
    delays(b, 4);
    b.reset();
    expect(delays(b, 2)).toEqual([1000, 2000]);
  });

  it("spreads each delay by up to ±jitter, with the injected random", () => {
    expect(new Backoff({ initialMs: 1000, jitter: 0.2, random: () => 0 }).next()).toBe(800);
    expect(new Backoff({ initialMs: 1000, jitter: 0.2, random: () => 0.75 }).next()).toBe(1100);
    expect(new Backoff({ initialMs: 1000, jitter: 0, random: () => 0 }).next()).toBe(1000);
  });

  it("never goes below (1 - jitter) x base nor above maxMs", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 1, max: 100 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.array(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), { minLength: 1, maxLength: 30 }),
        (initialMs, maxFactor, jitter, randoms) => {
          const maxMs = initialMs * maxFactor;
          let i = 0;
          const b = new Backoff({ initialMs, maxMs, jitter, random: () => randoms[i++ % randoms.length]! });
          let base = initialMs;
          for (let n = 0; n < randoms.length; n++) {
            const d = b.next();
            expect(d).toBeLessThanOrEqual(maxMs);
            expect(d).toBeGreaterThanOrEqual(Math.floor(base * (1 - jitter)));
            base = Math.min(maxMs, base * 2);
          }
        },
      ),
    );
  });

  it("rejects nonsense settings", () => {
    expect(() => new Backoff({ initialMs: 0 })).toThrow(RangeError);
    expect(() => new Backoff({ initialMs: 5000, maxMs: 1000 })).toThrow(RangeError);
    expect(() => new Backoff({ jitter: 2 })).toThrow(RangeError);
  });
});

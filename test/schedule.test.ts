import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { capBeforeExpiry, nextQuotaDay, planRefresh, retryDelay, type RetryPolicy } from "../src/core/schedule.js";

const retry: RetryPolicy = { baseMs: 1000, maxMs: 60_000, adminMs: 300_000, permanentMs: 1_800_000, rateLimitMs: 60_000 };

describe("planRefresh", () => {
  it("always schedules strictly after obtaining and strictly before expiry, for any expires_in", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 4_000_000_000_000 }), // obtainedAt
        fc.integer({ min: 1, max: 86_400 }), // expires_in seconds, tiny ones included
        fc.integer({ min: 1, max: 3_600_000 }), // margin
        fc.integer({ min: 0, max: 3_600_000 }), // jitter
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), // random()
        (obtainedAt, expiresIn, marginMs, jitterMs, r) => {
          const expiresAt = obtainedAt + expiresIn * 1000;
          const at = planRefresh(obtainedAt, expiresAt, { marginMs, jitterMs }, () => r);
          expect(at).toBeGreaterThan(obtainedAt);
          expect(at).toBeLessThan(expiresAt);
        },
      ),
      { numRuns: 5000 },
    );
  });

  it("uses the expires_in WeChat sent, not an assumed 7200", () => {
    const policy = { marginMs: 300_000, jitterMs: 0 };
    expect(planRefresh(0, 7200_000, policy)).toBe(6900_000);
    expect(planRefresh(0, 3600_000, policy)).toBe(3300_000);
    // A lifetime shorter than twice the margin is refreshed at its half-life.
    expect(planRefresh(0, 60_000, policy)).toBe(30_000);
  });

  it("spreads refreshes with jitter within the configured bound", () => {
    const policy = { marginMs: 300_000, jitterMs: 60_000 };
    expect(planRefresh(0, 7200_000, policy, () => 0)).toBe(6900_000);
    expect(planRefresh(0, 7200_000, policy, () => 0.5)).toBe(6870_000);
    expect(planRefresh(0, 7200_000, policy, () => 0.999999)).toBeGreaterThan(6840_000);
  });
});

describe("retryDelay", () => {
  it("backs off transient failures exponentially with jitter, up to the cap", () => {
    expect(retryDelay("transient", 1, 0, retry, () => 0)).toBe(500);
    expect(retryDelay("transient", 1, 0, retry, () => 0.999)).toBeLessThanOrEqual(1000);
    expect(retryDelay("transient", 3, 0, retry, () => 0)).toBe(2000);
    expect(retryDelay("transient", 30, 0, retry, () => 0.999)).toBeLessThanOrEqual(60_000);
    expect(retryDelay("transient", 30, 0, retry, () => 0)).toBe(30_000);
  });

  it("waits for the next quota day (midnight in China) after 45009", () => {
    const now = Date.UTC(2026, 10, 25, 10, 0, 0); // 18:00 in Beijing
    const delay = retryDelay("quota", 1, now, retry, () => 0, 45009);
    expect(now + delay).toBe(Date.UTC(2026, 10, 25, 16, 0, 0)); // 00:00 Beijing
  });

  it("waits a minute after 45011, minutes after admin errors, half an hour after credential errors", () => {
    expect(retryDelay("quota", 1, 0, retry, () => 0, 45011)).toBe(60_000);
    expect(retryDelay("admin", 1, 0, retry, () => 0)).toBe(300_000);
    expect(retryDelay("permanent", 5, 0, retry, () => 0)).toBe(1_800_000);
  });

  it("never schedules a retry past a still-valid token's expiry, nor sooner than the floor", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10_000_000 }), fc.integer({ min: 1, max: 10_000_000 }), (delay, remaining) => {
        const capped = capBeforeExpiry(delay, 1000, 1000 + remaining, 500);
        expect(capped).toBeLessThanOrEqual(delay);
        if (remaining > 600) expect(capped).toBeLessThan(remaining);
        expect(capped).toBeGreaterThanOrEqual(Math.min(delay, 500));
      }),
    );
  });
});

describe("nextQuotaDay", () => {
  it("is the next 00:00 Asia/Shanghai", () => {
    expect(nextQuotaDay(Date.UTC(2026, 0, 1, 15, 59, 59))).toBe(Date.UTC(2026, 0, 1, 16, 0, 0));
    expect(nextQuotaDay(Date.UTC(2026, 0, 1, 16, 0, 0))).toBe(Date.UTC(2026, 0, 2, 16, 0, 0));
  });
});

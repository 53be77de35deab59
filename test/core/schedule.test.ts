import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { capBeforeExpiry, nextQuotaDay, planRefresh, retryDelay, type RetryPolicy } from "../../src/core/schedule.js";
import { APP, eventually, Harness } from "../support/harness.js";

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

  // The window this test holds planRefresh to, written out here rather than
  // taken from schedule.ts: each fetch costs quota, so a token is used for at
  // least 3/4 of its life, and is refreshed strictly before it expires.
  it("schedules in the last quarter of the token's life, never before expiresAt - margin - jitter, for any lifetime and policy", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 4_000_000_000_000 }), // obtainedAt
        fc.oneof(fc.integer({ min: 4, max: 120_000 }), fc.integer({ min: 1, max: 86_400 }).map((s) => s * 1000)), // lifetime in ms
        fc.integer({ min: 1, max: 3_600_000 }), // margin
        fc.integer({ min: 0, max: 3_600_000 }), // jitter
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), // random()
        (obtainedAt, lifetime, marginMs, jitterMs, r) => {
          const expiresAt = obtainedAt + lifetime;
          const at = planRefresh(obtainedAt, expiresAt, { marginMs, jitterMs }, () => r);
          expect(at).toBeGreaterThanOrEqual(obtainedAt + 0.75 * lifetime);
          expect(at).toBeLessThan(expiresAt);
          // Short lifetimes only ever move the refresh later, never earlier
          // (stable_token gives a new token only in its last minutes).
          expect(at).toBeGreaterThanOrEqual(expiresAt - marginMs - jitterMs);
        },
      ),
      { numRuns: 10_000 },
    );
  });

  it("uses the expires_in WeChat sent, not an assumed 7200", () => {
    const policy = { marginMs: 300_000, jitterMs: 0 };
    expect(planRefresh(0, 7200_000, policy)).toBe(6900_000);
    expect(planRefresh(0, 3600_000, policy)).toBe(3300_000);
    // A lifetime shorter than four times the margin is refreshed with a quarter of it left.
    expect(planRefresh(0, 60_000, policy)).toBe(45_000);
    expect(planRefresh(0, 12_000, policy)).toBe(9_000);
  });

  it("keeps a spread for short lifetimes, in proportion to margin and jitter", () => {
    // 12 s: a quarter is 3 s, shared 5:1 between margin (300 s) and jitter (60 s).
    const policy = { marginMs: 300_000, jitterMs: 60_000 };
    expect(planRefresh(0, 12_000, policy, () => 0)).toBe(9_500);
    expect(planRefresh(0, 12_000, policy, () => 0.999999)).toBe(9_001);
  });

  it("spreads refreshes with jitter within the configured bound", () => {
    const policy = { marginMs: 300_000, jitterMs: 60_000 };
    expect(planRefresh(0, 7200_000, policy, () => 0)).toBe(6900_000);
    expect(planRefresh(0, 7200_000, policy, () => 0.5)).toBe(6870_000);
    expect(planRefresh(0, 7200_000, policy, () => 0.999999)).toBeGreaterThan(6840_000);
  });
});

describe("a short-lived token, end to end", () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.stop();
    h = undefined;
  });

  it("with expires_in 12 s, 40 s of serving costs at most 5 upstream fetches, and a valid token is always served", async () => {
    h = await Harness.start({ expiresIn: 12 });
    const start = h.clock.now();
    for (let t = 0; t <= 40_000; t += 500) {
      await h.clock.advance(start + t - h.clock.now());
      // A refresh that came due is real HTTP to the fake: wait for it to land
      // before time moves on, so the count is what the schedule asked for.
      await eventually(async () => {
        const token = (await h!.getToken(APP)).token!;
        expect(token.refreshAt!.getTime()).toBeGreaterThan(h!.clock.now());
        expect(token.expiresAt!.getTime()).toBeGreaterThan(h!.clock.now());
        expect(h!.fake.isValid(APP, token.accessToken)).toBe(true);
      });
    }
    // Refreshing no earlier than 3/4 into each 12 s token: at 0, then at most
    // once per 9 s (0, 9, 18, 27, 36). Refreshing at half-life made 7.
    expect(h.fake.successfulTokenCalls(APP)).toBeLessThanOrEqual(5);
    // And never fewer than the lifetime demands: 0, <12, <24, <36.
    expect(h.fake.successfulTokenCalls(APP)).toBeGreaterThanOrEqual(4);
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

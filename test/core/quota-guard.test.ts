import { Metadata, status, type ServiceError } from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { FakeClock } from "../../src/clock.js";
import type { AccessPolicy } from "../../src/core/access-policy.js";
import { RateLimiter } from "../../src/api/rate-limit.js";
import { AppQuota, QuotaGuardError } from "../../src/core/quota-guard.js";
import { APP, APP2, eventually, grpcError, Harness } from "../support/harness.js";

let h: Harness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

function guardError(fn: () => void): QuotaGuardError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(QuotaGuardError);
    return err as QuotaGuardError;
  }
  throw new Error("expected a QuotaGuardError");
}

describe("AppQuota", () => {
  it("enforces the daily budget, the ForceRefresh budget and interval, and resets at China midnight", () => {
    const clock = new FakeClock(Date.UTC(2026, 0, 1, 15, 0, 0)); // 23:00 in Beijing
    const q = new AppQuota("wx1", { dailyBudget: 5, forceDailyBudget: 2, minForceIntervalMs: 30_000 }, clock);
    q.check(true);
    q.succeeded(true);
    q.record(true);
    expect(guardError(() => q.check(true)).limit).toBe("FORCE_REFRESH_TOO_SOON");
    expect(guardError(() => q.check(true)).retryAfterMs).toBe(30_000);
    clock.set(clock.now() + 30_000);
    q.check(true);
    q.succeeded(true);
    q.record(true);
    clock.set(clock.now() + 30_000);
    expect(guardError(() => q.check(true)).limit).toBe("FORCE_REFRESH_BUDGET_EXHAUSTED");
    q.check(false);
    for (let i = 0; i < 3; i++) q.record(false);
    const e = guardError(() => q.check(false));
    expect(e.limit).toBe("DAILY_BUDGET_EXHAUSTED");
    expect(clock.now() + e.retryAfterMs).toBe(Date.UTC(2026, 0, 1, 16, 0, 0));
    clock.set(Date.UTC(2026, 0, 1, 16, 0, 0));
    q.check(true);
    expect(q.used()).toMatchObject({ used: 0, forced: 0 });
  });

  it("starts the ForceRefresh interval when a forced refresh succeeded, not when one failed (counted or not)", () => {
    const clock = new FakeClock();
    const q = new AppQuota("wx1", { dailyBudget: 5, forceDailyBudget: 2, minForceIntervalMs: 30_000 }, clock);
    // A failed attempt whose answer was lost is counted, and starts nothing.
    q.record(true);
    q.check(true);
    expect(q.forceTooSoon()).toBeUndefined();
    q.succeeded(true);
    expect(guardError(() => q.check(true)).limit).toBe("FORCE_REFRESH_TOO_SOON");
    expect(q.forceTooSoon()!.retryAfterMs).toBe(30_000);
    // WeChat's own refusal of the value is not held back by the interval; the daily budgets still apply.
    q.check(true, false);
    q.record(true);
    expect(guardError(() => q.check(true, false)).limit).toBe("FORCE_REFRESH_BUDGET_EXHAUSTED");
    expect(q.used()).toMatchObject({ used: 2, forced: 2 });
  });
});

describe("RateLimiter", () => {
  it("allows a burst of perMinute, then one call per refill interval", () => {
    const clock = new FakeClock();
    const limiter = new RateLimiter(6, clock);
    for (let i = 0; i < 6; i++) limiter.take("a");
    const e = guardError(() => limiter.take("a"));
    expect(e.limit).toBe("CLIENT_RATE_LIMITED");
    expect(e.retryAfterMs).toBe(10_000);
    limiter.take("b"); // other clients are unaffected
    clock.set(clock.now() + 10_000);
    limiter.take("a");
    expect(() => limiter.take("a")).toThrow(QuotaGuardError);
  });
});

/** Names each caller from an `x-test-client` header, standing in for API keys. */
const perHeader: AccessPolicy = {
  authenticate: (call) => ({ name: String(call.metadata.get("x-test-client")[0] ?? "none"), method: "api-key" }),
  authorize: () => undefined,
};

describe("a ForceRefresh flood", () => {
  it("stays within the upstream budget while GetToken keeps answering", async () => {
    const budget = { dailyBudget: 40, forceRefreshDailyBudget: 15, minForceRefreshIntervalSeconds: 30, clientForceRefreshPerMinute: 4 };
    h = await Harness.start({ config: { quota: budget }, accessPolicy: perHeader });
    const force = (client: number, stale: string): Promise<unknown> => {
      const md = new Metadata();
      md.set("x-test-client", `client-${client}`);
      return new Promise((resolve, reject) =>
        h!.client.forceRefresh({ kind: 0, agent: "", platformId: "", appId: APP, staleToken: stale }, md, (err, res) => (err ? reject(err) : resolve(res))),
      );
    };
    const codes = new Map<string, number>();
    let round = 0;
    for (; round < 200; round++) {
      const current = (await h.getToken(APP)).token!;
      expect(current.expiresAt!.getTime()).toBeGreaterThan(h.clock.now());
      // 25 clients: most report the current token (the dangerous kind), some garbage.
      const calls = Array.from({ length: 25 }, (_, c) => force(c, c % 5 === 0 ? `garbage-${round}-${c}` : current.accessToken));
      const results = await Promise.allSettled(calls);
      for (const r of results) {
        const key = r.status === "fulfilled" ? "OK" : status[(r.reason as ServiceError).code]!;
        codes.set(key, (codes.get(key) ?? 0) + 1);
        if (r.status === "rejected") {
          const err = r.reason as ServiceError;
          expect(err.code).toBe(status.RESOURCE_EXHAUSTED);
          expect(err.details).toMatch(/retry in \d+s/);
        }
      }
      await h.clock.advance(5_000);
    }
    // 1,000 simulated seconds of flooding: at most one forced refresh per 30 s, and never over the budget.
    const upstream = h.fake.calls("/cgi-bin/token", APP);
    expect(upstream).toBeLessThanOrEqual(1 + budget.forceRefreshDailyBudget);
    expect(upstream).toBeGreaterThan(5);
    expect(codes.get("RESOURCE_EXHAUSTED")).toBeGreaterThan(0);
    expect(codes.get("OK")).toBeGreaterThan(0);
    // The guard refused, but tokens are still served.
    const final = await h.getToken(APP);
    expect(h.fake.isValid(APP, final.token!.accessToken)).toBe(true);
  });

  it("refuses with RESOURCE_EXHAUSTED when one client forces too often, without touching others' tokens", async () => {
    h = await Harness.start({ config: { quota: { clientForceRefreshPerMinute: 2, minForceRefreshIntervalSeconds: 0 } } });
    const t1 = (await h.getToken(APP)).token!.accessToken;
    const r1 = await h.forceRefresh(APP, t1);
    const r2 = await h.forceRefresh(APP, r1.token!.accessToken);
    const err = await grpcError(h.forceRefresh(APP, r2.token!.accessToken));
    expect(err.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(err.details).toMatch(/over its ForceRefresh limit/);
    expect((await h.getToken(APP)).token?.accessToken).toBe(r2.token?.accessToken);
  });

  it("does not count calls WeChat refused or never received, so an outage does not use up the budget", async () => {
    h = await Harness.start({ expiresIn: 600, config: { quota: { dailyBudget: 3 } } });
    const first = (await h.getToken(APP)).token!;
    expect(h.server.credential(APP).quota.used().used).toBe(1);
    // WeChat is busy (-1), then a proxy answers 502, for far more attempts than the budget.
    h.fake.inject({ appId: APP, errcode: -1, times: 10 });
    h.fake.inject({ appId: APP, httpStatus: 502, times: 10 });
    await h.clock.advance(first.expiresAt!.getTime() - h.clock.now());
    const calls = () => h!.fake.calls("/cgi-bin/token", APP);
    // Each retry comes within a minute (the backoff's cap); wait for each one's I/O.
    while (calls() < 21) {
      const before = calls();
      await h.clock.advance(60_000);
      await eventually(() => expect(calls()).toBeGreaterThan(before));
    }
    // WeChat is back: the budget still has room, so the app recovers today.
    await eventually(async () => {
      await h!.clock.advance(60_000);
      expect((await h!.getToken(APP)).token?.version).toBe(2);
    });
    expect(h.server.credential(APP).quota.used().used).toBe(2);
  });

  it("counts a call whose answer was lost (a timeout): WeChat may have issued and counted a token", async () => {
    h = await Harness.start({ upstreamTimeoutMs: 100 });
    h.fake.inject({ appId: APP2, delayMs: 400 });
    await eventually(() => expect(h!.server.credential(APP2).lastError()?.message).toMatch(/timeout/));
    expect(h.server.credential(APP2).quota.used().used).toBe(1);
  });

  it("stops scheduled refreshes at the daily budget and resumes on the next quota day", async () => {
    h = await Harness.start({ expiresIn: 60, config: { quota: { dailyBudget: 3 } } });
    await h.getToken(APP);
    // A 60 s token is refreshed every 30 s: the budget of 3 is gone after a minute.
    for (let i = 0; i < 10; i++) {
      await h.clock.advance(30_000);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(h.fake.calls("/cgi-bin/token", APP)).toBe(3);
    const err = await grpcError(h.getToken(APP));
    expect(err.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(err.details).toMatch(/daily budget of 3/);
  });
});

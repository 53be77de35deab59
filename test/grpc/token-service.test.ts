import { status } from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { APP, APP2, eventually, grpcError, Harness } from "../support/harness.js";

let h: Harness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

/**
 * The harness with the app's first token call held up for delayMs (real time):
 * the server starts that fetch at listen(), so calls made right after start()
 * arrive while it is still in flight, not after it has finished.
 */
function startWithSlowFirstFetch(delayMs: number): Promise<Harness> {
  // A generous upstream timeout: 1,000 calls on a busy 2-core machine can hold
  // the in-process fake's answer back for seconds, which is not what is tested.
  return Harness.start({ faults: [{ appId: APP, delayMs }], upstreamTimeoutMs: 10_000 });
}

describe("GetToken", () => {
  it("makes exactly one upstream call for 1,000 concurrent callers on a cold start", async () => {
    h = await startWithSlowFirstFetch(500);
    expect(h.fake.successfulTokenCalls(APP)).toBe(0);
    const results = await Promise.all(Array.from({ length: 1000 }, () => h!.getToken(APP)));
    expect(h.fake.successfulTokenCalls(APP)).toBe(1);
    expect(h.fake.calls("/cgi-bin/token", APP)).toBe(1);
    const tokens = new Set(results.map((r) => r.token?.accessToken));
    expect(tokens.size).toBe(1);
    expect(results[0]?.token?.version).toBe(1);
    expect(h.fake.isValid(APP, results[0]!.token!.accessToken)).toBe(true);
  });

  it("returns the token with its lifetime from the expires_in WeChat sent", async () => {
    h = await Harness.start({ expiresIn: 3600 });
    const { token } = await h.getToken(APP);
    expect(token?.appId).toBe(APP);
    expect(token!.expiresAt!.getTime() - token!.obtainedAt!.getTime()).toBe(3600_000);
    expect(token!.refreshAt!.getTime()).toBeLessThan(token!.expiresAt!.getTime());
    expect(token!.refreshAt!.getTime()).toBeGreaterThan(token!.obtainedAt!.getTime());
    expect(token!.fingerprint).toMatch(/^[0-9a-f]{8}$/);
  });

  it("keeps apps apart: each app has its own token and upstream calls", async () => {
    h = await Harness.start();
    const [a, b] = await Promise.all([h.getToken(APP), h.getToken(APP2)]);
    expect(a.token?.accessToken).not.toBe(b.token?.accessToken);
    expect(h.fake.isValid(APP2, b.token!.accessToken)).toBe(true);
    expect(h.fake.successfulTokenCalls(APP)).toBe(1);
    expect(h.fake.successfulTokenCalls(APP2)).toBe(1);
  });

  it("answers NOT_FOUND for an app that is not configured", async () => {
    h = await Harness.start();
    const err = await grpcError(h.getToken("wx9999999999999999"));
    expect(err.code).toBe(status.NOT_FOUND);
    expect(err.details).toContain("wx9999999999999999");
  });

  it.each([
    ["empty", ""],
    ["with a space", "wx 123"],
    ["with a slash", "wx/../etc"],
    ["too long", "w".repeat(129)],
    ["non-ASCII", "wx中文"],
  ])("answers INVALID_ARGUMENT for an app id that is %s", async (_what, appId) => {
    h = await Harness.start();
    const err = await grpcError(h.getToken(appId));
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.details).toMatch(/app_id/);
  });
});

describe("refresh schedule", () => {
  it("refreshes proactively before expiry, then serves the new version", async () => {
    h = await Harness.start();
    const first = (await h.getToken(APP)).token!;
    const wait = first.refreshAt!.getTime() - h.clock.now();
    await h.clock.advance(wait - 1);
    expect(h.fake.successfulTokenCalls(APP)).toBe(1);
    await h.clock.advance(1);
    await eventually(() => expect(h!.fake.successfulTokenCalls(APP)).toBe(2));
    const second = (await h.getToken(APP)).token!;
    expect(second.version).toBe(2);
    expect(second.accessToken).not.toBe(first.accessToken);
    expect(second.expiresAt!.getTime()).toBeGreaterThan(first.expiresAt!.getTime());
  });

  it("serves the old token while a refresh is in flight", async () => {
    h = await Harness.start();
    const first = (await h.getToken(APP)).token!;
    h.fake.inject({ delayMs: 400 });
    await h.clock.advance(first.refreshAt!.getTime() - h.clock.now());
    // The refresh is now waiting on the slow upstream.
    await eventually(() => expect(h!.fake.calls("/cgi-bin/token", APP)).toBe(2));
    const during = await Promise.all(Array.from({ length: 50 }, () => h!.getToken(APP)));
    for (const r of during) expect(r.token?.accessToken).toBe(first.accessToken);
    expect(h.fake.successfulTokenCalls(APP)).toBe(1);
    await eventually(() => expect(h!.fake.successfulTokenCalls(APP)).toBe(2));
    expect((await h.getToken(APP)).token?.version).toBe(2);
  });

  it("keeps serving the valid token while refreshes fail, and never serves it after expiry", async () => {
    h = await Harness.start({ expiresIn: 600 });
    const first = (await h.getToken(APP)).token!;
    h.fake.inject({ errcode: -1, times: Infinity });
    const expiresAt = first.expiresAt!.getTime();
    // Walk to just before expiry in steps, asking every step.
    while (h.clock.now() < expiresAt - 20_000) {
      await h.clock.advance(15_000);
      const r = await h.getToken(APP);
      expect(r.token?.accessToken).toBe(first.accessToken);
      expect(r.token!.expiresAt!.getTime()).toBeGreaterThan(h.clock.now());
    }
    // Retries happened (transient), each before expiry.
    expect(h.fake.calls("/cgi-bin/token", APP)).toBeGreaterThan(2);
    await h.clock.advance(expiresAt - h.clock.now());
    // A deadline before the next attempt: answered at once, not joined to it.
    const err = await grpcError(h.getToken(APP, 150));
    expect(err.code).toBe(status.UNAVAILABLE);
    expect(err.details).toMatch(/expired/);
    expect(err.details).toContain("errcode -1");
    // Once WeChat recovers, the next retry brings a token back.
    h.fake.clearFaults();
    await h.clock.advance(61_000);
    await eventually(async () => expect((await h!.getToken(APP)).token?.version).toBe(2));
  });
});

describe("ForceRefresh", () => {
  it("makes exactly one upstream call for 1,000 concurrent callers with the same stale token", async () => {
    h = await Harness.start();
    const stale = (await h.getToken(APP)).token!.accessToken;
    // Held up, so the callers arrive while the refresh is in flight.
    h.fake.inject({ appId: APP, delayMs: 500 });
    const results = await Promise.all(Array.from({ length: 1000 }, () => h!.forceRefresh(APP, stale)));
    expect(h.fake.successfulTokenCalls(APP)).toBe(2);
    const fresh = new Set(results.map((r) => r.token?.accessToken));
    expect(fresh.size).toBe(1);
    expect(fresh.has(stale)).toBe(false);
    expect(results.every((r) => r.token?.version === 2)).toBe(true);
    // Every caller either joined the refresh or saw it already done.
    expect(results.filter((r) => r.refreshed).length).toBeGreaterThan(0);
  });

  it("returns the current token with no upstream call when the stale token was already replaced", async () => {
    h = await Harness.start();
    const stale = (await h.getToken(APP)).token!.accessToken;
    const refreshed = await h.forceRefresh(APP, stale);
    expect(refreshed.refreshed).toBe(true);
    const again = await h.forceRefresh(APP, stale);
    expect(again.refreshed).toBe(false);
    expect(again.token?.accessToken).toBe(refreshed.token?.accessToken);
    const garbage = await h.forceRefresh(APP, "not-a-token-we-ever-had");
    expect(garbage.refreshed).toBe(false);
    expect(h.fake.successfulTokenCalls(APP)).toBe(2);
  });

  it("answers INVALID_ARGUMENT for an empty stale token", async () => {
    h = await Harness.start();
    const err = await grpcError(h.forceRefresh(APP, ""));
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.details).toMatch(/stale_token/);
  });

  it("answers NOT_FOUND for an unknown app", async () => {
    h = await Harness.start();
    const err = await grpcError(h.forceRefresh("wxnope", "x"));
    expect(err.code).toBe(status.NOT_FOUND);
  });

  it("the token it returns is accepted by WeChat and the old one is superseded", async () => {
    h = await Harness.start();
    const stale = (await h.getToken(APP)).token!.accessToken;
    const res = await h.forceRefresh(APP, stale);
    const fresh = res.token!.accessToken;
    expect(h.fake.errcodeFor(fresh)).toBe(0);
    // WeChat keeps the superseded token working for 5 minutes, then answers 40001.
    await h.clock.advance(299_999);
    expect(h.fake.errcodeFor(stale)).toBe(0);
    await h.clock.advance(1);
    expect(h.fake.errcodeFor(stale)).toBe(40001);
    expect(h.fake.errcodeFor(fresh)).toBe(0);
    expect(h.fake.isValid(APP, fresh)).toBe(true);
  });
});

/**
 * The faults of real operation: answers WeChat sent after we gave up, callers
 * who can wait for the next attempt, an operator who fixed the cause, and
 * clear_quota/v2. The real server, the fake WeChat over HTTP, one fake clock.
 */
import { status } from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { APP, APP2, eventually, grpcError, Harness, SECRETS } from "../support/harness.js";
import { useCli } from "../support/cli.js";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../support/harness.js";

let h: Harness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});
const fixture = useCli();

describe("an answer that arrives after our timeout", () => {
  it("shortens the served token to the overlap window, plans the retry inside it, and waits longer for the next answer", async () => {
    h = await Harness.start({ upstreamTimeoutMs: 200 });
    const v1 = (await h.getToken(APP)).token!;
    await h.clock.advance(1000_000);
    const calledAt = h.clock.now();
    // WeChat answers in 300 ms, after our 200: it issued a token we never see.
    h.fake.inject({ appId: APP, delayMs: 300, times: 1 });
    const lost = await grpcError(h.forceRefresh(APP, v1.accessToken));
    expect(lost.code).toBe(status.UNAVAILABLE);
    await eventually(() => expect(h!.fake.successfulTokenCalls(APP)).toBe(2));
    const served = (await h.getToken(APP)).token!;
    expect(served.accessToken).toBe(v1.accessToken);
    // WeChat cuts v1 five minutes after the token it issued: we believe no longer.
    expect(served.expiresAt!.getTime()).toBe(calledAt + 300_000);
    expect(served.refreshAt!.getTime()).toBeLessThan(served.expiresAt!.getTime());
    expect(h.logs.text()).toMatch(/an answer was lost/);

    // The next attempt waits twice as long: a WeChat slow again (300 ms) is answered in time.
    h.fake.inject({ appId: APP, delayMs: 300, times: 1 });
    await h.clock.advance(60_000);
    await eventually(async () => expect((await h!.getToken(APP)).token!.version).toBe(2), 5000);
    const v2 = (await h.getToken(APP)).token!;
    expect(h.fake.isValid(APP, v2.accessToken)).toBe(true);
    expect(h.fake.successfulTokenCalls(APP)).toBe(3);
  });

  it("takes a ForceRefresh of the served token as the signal to try again at once, not after the backoff", async () => {
    h = await Harness.start({ upstreamTimeoutMs: 200 });
    const v1 = (await h.getToken(APP)).token!;
    h.fake.inject({ appId: APP, delayMs: 300, times: 1 });
    expect((await grpcError(h.forceRefresh(APP, v1.accessToken))).code).toBe(status.UNAVAILABLE);
    // The next business call got 40001 with v1 (the token WeChat issued meanwhile may cut it): no waiting out the backoff.
    const res = await h.forceRefresh(APP, v1.accessToken);
    expect(res.refreshed).toBe(true);
    expect(res.token!.version).toBe(2);
    expect(h.fake.isValid(APP, res.token!.accessToken)).toBe(true);
  });
});

describe("a caller with a deadline", () => {
  it("joins the next attempt when it falls within its deadline, instead of getting UNAVAILABLE at once", async () => {
    h = await Harness.start({ faults: [{ appId: APP, errcode: -1, times: 1 }, { appId: APP2, errcode: -1, times: Infinity }] });
    // The cold-start fetch failed; the next attempt is planned 0.5 s (server clock) on.
    await eventually(() => expect(h!.logs.text()).toMatch(/refresh failed/));
    const waiting = h.getToken(APP, 10_000);
    await new Promise((r) => setTimeout(r, 50));
    await h.clock.advance(1000);
    const { token } = await waiting;
    expect(token!.version).toBe(1);
    // A caller whose deadline ends first is still answered at once.
    const err = await grpcError(h.getToken(APP2, 150));
    expect(err.code).toBe(status.UNAVAILABLE);
  });
});

describe("an operator who fixed the cause", () => {
  it("makes every failing app try again at once (retryFailing, what SIGHUP does), within the quota guard", async () => {
    h = await Harness.start({ faults: [{ appId: APP, errcode: 40164, times: 1 }] });
    await eventually(() => expect(h!.logs.text()).toMatch(/refresh failed/));
    expect(h.fake.calls("/cgi-bin/token", APP)).toBe(1);
    // The whitelist is fixed; without a retry the next attempt would be 5 minutes away.
    expect(h.server.retryFailing()).toEqual([APP]);
    await h.clock.advance(0);
    await eventually(async () => expect((await h!.getToken(APP)).token!.version).toBe(1));
    expect(h.fake.calls("/cgi-bin/token", APP)).toBe(2);
    // Nothing is failing now: nothing to retry.
    expect(h.server.retryFailing()).toEqual([]);
  });

  it("`wxtoken retry --pidfile` tells a running server (SIGHUP): the whitelisted app gets its token now, not in 5 minutes", { timeout: 30_000 }, async () => {
    const { FakeWeChat } = await import("../../src/fake-wechat/index.js");
    const fake = new FakeWeChat({ apps: { [APP]: SECRETS[APP]! } });
    await fake.start();
    fixture.defer(() => fake.close());
    fake.inject({ appId: APP, errcode: 40164, times: 1 });
    const dir = tempDir();
    const pidfile = join(dir, "wxtoken.pid");
    const { freePort } = await import("../support/cli.js");
    const port = await freePort();
    const config = join(dir, "wxtoken.json");
    writeFileSync(config, JSON.stringify({ listen: `127.0.0.1:${port}`, upstream: { baseUrl: fake.url }, store: { type: "memory" }, apps: [{ appId: APP, secretEnv: "WX_SECRET" }] }));
    const server = fixture.cli.start(["serve", "--config", config, "--pidfile", pidfile], { WX_SECRET: SECRETS[APP]! });
    await eventually(() => expect(server.stderr()).toMatch(/refresh failed/), 10_000);
    expect(readFileSync(pidfile, "utf8").trim()).toBe(String(server.child.pid));
    const retry = await fixture.cli.run(["retry", "--pidfile", pidfile]);
    expect(retry.code).toBe(0);
    await eventually(() => expect(server.stderr()).toMatch(/retrying failing credentials at once/), 10_000);
    const got = await fixture.cli.run(["get", APP, "--addr", `127.0.0.1:${port}`]);
    expect(got.code).toBe(0);
    expect(JSON.parse(got.stdout)).toMatchObject({ token: { appId: APP, version: "1" } });
    const bad = await fixture.cli.run(["retry"]);
    expect(bad.code).toBe(2);
  });

  it("resets the day's quota with `wxtoken clear-quota APP` (clear_quota/v2, appid and appsecret)", async () => {
    h = await Harness.start({ fakeOptions: { dailyQuota: 1 } });
    const v1 = (await h.getToken(APP)).token!;
    const refused = await grpcError(h.forceRefresh(APP, v1.accessToken));
    expect(refused.code).toBe(status.RESOURCE_EXHAUSTED);
    const dir = tempDir();
    const config = join(dir, "wxtoken.json");
    writeFileSync(config, JSON.stringify({ upstream: { baseUrl: h.fake.url }, apps: [{ appId: APP, secretEnv: "WX_SECRET" }] }));
    const run = await fixture.cli.run(["clear-quota", APP, "--config", config], { env: { WX_SECRET: SECRETS[APP]! } });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/reset the API quotas/);
    expect(run.stdout + run.stderr).not.toContain(SECRETS[APP]);
    // WeChat counts from zero again; `wxtoken retry` (SIGHUP) makes the app try at once.
    expect(h.server.retryFailing()).toEqual([APP]);
    await h.clock.advance(0);
    await eventually(async () => expect((await h!.getToken(APP)).token!.version).toBe(2));
    const wrong = await fixture.cli.run(["clear-quota", APP, "--config", config], { env: { WX_SECRET: "wrong-secret" } });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/40125/);
  });
});

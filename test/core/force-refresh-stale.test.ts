/**
 * A caller whose token WeChat refused gets a working one as soon as WeChat
 * gives one, while the minimum interval between forced refreshes still keeps
 * a caller that reports good tokens as stale from burning the quota (see
 * src/core/stale-check.ts). The real server over loopback gRPC, the fake
 * WeChat over HTTP (getcallbackip answers per token state), one fake clock.
 */
import { status } from "@grpc/grpc-js";
import { afterEach, describe, expect, it, vi } from "vitest";
import { CredentialKind, type ForceRefreshResponse } from "../../generated/wxtoken/v1/token_service.js";
import { callbackIpCommand } from "../../src/cli/callback-ip.js";
import type { Fault } from "../../src/fake-wechat/index.js";
import { APP, eventually, grpcError, Harness, SECRETS, type HarnessOptions } from "../support/harness.js";

const JSAPI = CredentialKind.CREDENTIAL_KIND_JSAPI_TICKET;
const CALLBACK_IP = "/cgi-bin/getcallbackip";
/** The default interval, as in production: one unverified forced refresh a minute. */
const QUOTA = { minForceRefreshIntervalSeconds: 60 };

let h: Harness | undefined;
afterEach(async () => {
  vi.restoreAllMocks();
  await h?.stop();
  h = undefined;
});

async function start(opts: HarnessOptions = {}): Promise<Harness> {
  h = await Harness.start({ config: { quota: QUOTA }, ...opts });
  return h;
}

/** Settles `p` while the fake clock moves on in steps: a caller waiting for the next attempt is answered once it comes. */
async function advancing<T>(h: Harness, p: Promise<T>, stepMs = 250): Promise<T> {
  let settled = false;
  void p.then(
    () => (settled = true),
    () => (settled = true),
  );
  await eventually(async () => {
    if (!settled) await h.clock.advance(stepMs);
    expect(settled).toBe(true);
  });
  return p;
}

const tokenCalls = (h: Harness) => h.fake.calls("/cgi-bin/token", APP);

describe("ForceRefresh after an attempt that failed", () => {
  it.each<[string, Fault, HarnessOptions]>([
    ["a garbage answer", { path: "/cgi-bin/token", appId: APP, garbage: true }, {}],
    ["-1 (system busy)", { path: "/cgi-bin/token", appId: APP, errcode: -1 }, {}],
    ["a timeout", { path: "/cgi-bin/token", appId: APP, delayMs: 600 }, { upstreamTimeoutMs: 200 }],
  ])("%s: the caller retrying with the same stale token gets a working token, not RESOURCE_EXHAUSTED", async (_what, fault, opts) => {
    const h = await start(opts);
    const stale = (await h.getToken(APP)).token!.accessToken;
    // WeChat refuses the caller's token (someone else fetched one), and its next token answer fails.
    h.fake.invalidateTokens(APP);
    h.fake.inject(fault);
    expect((await grpcError(h.forceRefresh(APP, stale))).code).toBe(status.UNAVAILABLE);
    // The caller retries at once, as the docs say: it waits for the server's next attempt and gets its token.
    const res = await advancing(h, h.forceRefresh(APP, stale));
    expect(res.token!.accessToken).not.toBe(stale);
    expect(h.fake.isValid(APP, res.token!.accessToken)).toBe(true);
    // The first token, the failed attempt, and the one that worked.
    expect(tokenCalls(h)).toBe(3);
  });

  it("a caller whose deadline ends before the next attempt is told UNAVAILABLE with the time to wait, not RESOURCE_EXHAUSTED", async () => {
    const h = await start();
    const stale = (await h.getToken(APP)).token!.accessToken;
    h.fake.inject({ path: "/cgi-bin/token", appId: APP, errcode: -1 });
    expect((await grpcError(h.forceRefresh(APP, stale))).code).toBe(status.UNAVAILABLE);
    // No fake time passes: the retry planned half a second on never comes within 150 ms of real time.
    const err = await grpcError(h.forceRefresh(APP, stale, 150));
    expect(err.code).toBe(status.UNAVAILABLE);
    expect(tokenCalls(h)).toBe(2);
  });

  it("a flood of reports while WeChat answers garbage: the backoff holds, not one token call per report", async () => {
    const h = await start();
    const current = (await h.getToken(APP)).token!.accessToken;
    h.fake.inject({ path: "/cgi-bin/token", appId: APP, garbage: true, times: Infinity });
    const before = tokenCalls(h);
    for (let i = 0; i < 100; i++) {
      // A short deadline: the caller does not wait for the next attempt, the clock stands still meanwhile.
      await h.forceRefresh(APP, current, 100).catch(() => undefined);
      await h.clock.advance(600);
    }
    // The first report's attempt, then the retries the backoff plans 0.5 s, 1 s, 2 s ... 16 s after each failure
    // (at 0.5, 1.5, 3.5, 7.5, 15.5 and 31.5 s; the next comes after the minute): 7, where one per report would be 100.
    expect(tokenCalls(h) - before).toBe(7);
  });
});

describe("ForceRefresh inside the minimum interval", () => {
  it("callback-ip after the token was cut, within a minute of a ticket's parent refresh: WeChat's refusal is checked and the token refreshed at once", async () => {
    const h = await start({ apps: [{ appId: APP, secretEnv: `SECRET_${APP}`, tickets: ["jsapi"] }] });
    const first = (await h.getToken(APP)).token!.accessToken;
    const ticket = (await h.get({ appId: APP, kind: JSAPI })).token!;
    // The token is cut; a ticket fetch meets 40001 and refreshes its parent (a forced refresh: the interval starts).
    h.fake.invalidateTokens(APP);
    h.fake.invalidateTicket(APP, "jsapi");
    await h.refresh({ appId: APP, kind: JSAPI, staleToken: ticket.accessToken });
    const second = (await h.getToken(APP)).token!.accessToken;
    expect(second).not.toBe(first);
    expect(h.fake.successfulTokenCalls(APP)).toBe(2);

    // Ten seconds later the token is cut again; the demo's client meets 40001 and forces a refresh.
    await h.clock.advance(10_000);
    h.fake.invalidateTokens(APP);
    const stdout: string[] = [];
    const stderr: string[] = [];
    vi.spyOn(process.stdout, "write").mockImplementation(((chunk: string) => stdout.push(String(chunk)) > 0) as typeof process.stdout.write);
    vi.spyOn(process.stderr, "write").mockImplementation(((chunk: string) => stderr.push(String(chunk)) > 0) as typeof process.stderr.write);
    await callbackIpCommand({ addr: `127.0.0.1:${h.port}`, appId: APP, wechatBaseUrl: h.fake.url, clock: h.clock });
    vi.restoreAllMocks();

    expect(JSON.parse(stdout.join(""))).toContain("106.55.206.146");
    expect(stderr.join("")).toMatch(/^WeChat rejected the token \(errcode 40001\); retrying with token v3 /);
    expect(h.fake.successfulTokenCalls(APP)).toBe(3);
    const third = (await h.getToken(APP)).token!.accessToken;
    expect(h.fake.isValid(APP, third)).toBe(true);
    expect(h.logs.text()).toContain("WeChat refuses the value, so it is refreshed at once");
  });

  it("a buggy caller sending 100 ForceRefresh a minute with a good token costs one token call", async () => {
    const h = await start();
    await h.getToken(APP);
    const before = tokenCalls(h);
    const answers: ForceRefreshResponse[] = [];
    for (let i = 0; i < 100; i++) {
      const current = (await h.getToken(APP)).token!.accessToken;
      answers.push(await h.forceRefresh(APP, current));
      await h.clock.advance(600);
    }
    // The first one refreshed (outside the interval); the other 99 were answered the token WeChat still takes.
    expect(tokenCalls(h) - before).toBe(1);
    expect(answers.filter((a) => a.refreshed)).toHaveLength(1);
    const final = (await h.getToken(APP)).token!.accessToken;
    expect(answers.slice(1).every((a) => a.token!.accessToken === final)).toBe(true);
    expect(h.fake.isValid(APP, final)).toBe(true);
    // Checks cost no token quota, and a value WeChat took is not asked about again for 5 s: the first report
    // after each 5 s is checked (at 0.6 s, 6.0 s, 11.4 s, ... 54.6 s of the minute).
    expect(h.fake.calls(CALLBACK_IP, APP)).toBe(11);
  });

  it("reports spread over an hour cost one token call a minute at most", async () => {
    const h = await start();
    await h.getToken(APP);
    const before = tokenCalls(h);
    for (let i = 0; i < 360; i++) {
      const current = (await h.getToken(APP)).token!.accessToken;
      await h.forceRefresh(APP, current);
      await h.clock.advance(10_000);
    }
    // One forced refresh as each interval ends (at 0, 60 s, ... 3,540 s); the reports between are checked.
    expect(tokenCalls(h) - before).toBe(60);
  });

  it("when the check gets no answer, the caller waits within its deadline for the interval's end, then the refresh is made", async () => {
    const h = await start({ config: { quota: { minForceRefreshIntervalSeconds: 2 } } });
    const first = (await h.getToken(APP)).token!.accessToken;
    const second = (await h.forceRefresh(APP, first)).token!.accessToken;
    h.fake.inject({ path: CALLBACK_IP, appId: APP, httpStatus: 502 });
    const third = await advancing(h, h.forceRefresh(APP, second));
    expect(third.refreshed).toBe(true);
    expect(h.fake.isValid(APP, third.token!.accessToken)).toBe(true);
    expect(h.fake.calls(CALLBACK_IP, APP)).toBe(1);
    expect(h.logs.text()).toContain("could not ask WeChat about the value");
  });

  it("a ticket has no free check: its caller waits, within its deadline, for the interval's end; past it, RESOURCE_EXHAUSTED with the time to wait", async () => {
    const h = await start({ apps: [{ appId: APP, secretEnv: `SECRET_${APP}`, tickets: ["jsapi"] }], config: { quota: { minForceRefreshIntervalSeconds: 2 } } });
    const forceTicket = async (deadlineMs: number) => {
      const held = (await h.get({ appId: APP, kind: JSAPI })).token!;
      h.fake.invalidateTicket(APP, "jsapi");
      return h.refresh({ appId: APP, kind: JSAPI, staleToken: held.accessToken }, deadlineMs);
    };
    const first = await forceTicket(5000);
    expect(first.refreshed).toBe(true);
    // Inside the interval with a deadline shorter than it: refused, with the time left.
    const err = await grpcError(forceTicket(1000));
    expect(err.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(err.details).toMatch(/force-refreshed less than 2s ago; retry in 2s/);
    // With a deadline past it: the caller waits and gets the new ticket.
    const waited = await advancing(h, forceTicket(5000));
    expect(waited.refreshed).toBe(true);
    expect(waited.token!.accessToken).toBe(h.fake.currentTicket(APP, "jsapi"));
    expect(h.fake.successfulTicketCalls(APP)).toBe(3);
  });
});

describe("the check for WeCom", () => {
  const CORP = "ww0123456789abcdef";
  const AGENT = "1000002";

  it("a WeCom token cut early is checked on WeCom's getcallbackip and refreshed at once inside the interval; a good one is answered as is", async () => {
    const h = await start({
      fakeOptions: { wecom: { [CORP]: { [AGENT]: "agent-secret-NEVER-LEAK" } } },
      env: { AGENT_SECRET: "agent-secret-NEVER-LEAK" },
      apps: [{ type: "wecom", corpId: CORP, agent: AGENT, secretEnv: "AGENT_SECRET" }],
    });
    const force = (stale: string) => h.refresh({ appId: CORP, agent: AGENT, staleToken: stale });
    const t1 = (await h.get({ appId: CORP, agent: AGENT })).token!.accessToken;
    h.fake.invalidateWeComToken(CORP, AGENT);
    const t2 = (await force(t1)).token!.accessToken;
    expect(h.fake.isWeComTokenValid(CORP, AGENT, t2)).toBe(true);
    // Inside the interval: a good token is answered as it is...
    const same = await force(t2);
    expect(same).toMatchObject({ refreshed: false, token: { accessToken: t2 } });
    // ...and one WeCom cut is refreshed at once.
    await h.clock.advance(6_000);
    h.fake.invalidateWeComToken(CORP, AGENT);
    const t3 = (await force(t2)).token!.accessToken;
    expect(t3).not.toBe(t2);
    expect(h.fake.isWeComTokenValid(CORP, AGENT, t3)).toBe(true);
    expect(h.fake.successfulWeComTokenCalls(`${CORP}/${AGENT}`)).toBe(3);
    expect(h.fake.calls(CALLBACK_IP)).toBe(2);
  });
});

describe("logs", () => {
  it("checks and the refreshes they cause write no token and no secret", async () => {
    const h = await start();
    const t = (await h.getToken(APP)).token!.accessToken;
    await h.forceRefresh(APP, t);
    const t2 = (await h.getToken(APP)).token!.accessToken;
    await h.forceRefresh(APP, t2);
    h.fake.invalidateTokens(APP);
    await h.forceRefresh(APP, t2);
    for (const secret of [t, t2, SECRETS[APP]!]) expect(h.logs.text()).not.toContain(secret);
  });
});

import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FakeClock } from "../../src/clock.js";
import { FakeWeChat, type FakeWeChatOptions } from "../../src/fake-wechat/index.js";

const A = "wx1a2b3c4d5e6f7a8b";
const B = "wx9f8e7d6c5b4a3f2e";
const SA = "secretA-0f3c9d2e7b6a41c58e9d0a1b";
const SB = "secretB-77aa21c0de9f4b3c8e1d2f60";
const RID = / rid: [0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}$/;
const TOKEN_CT = "application/json; encoding=utf-8";
// 23:00 in Shanghai: the quota day turns over one hour in.
const START = Date.UTC(2026, 0, 1, 15, 0, 0);
const HOUR = 3_600_000;

type Json = Record<string, any>;
let clock: FakeClock;
let fake: FakeWeChat;
let base: string;
let bodies: string[];

async function setup(options: Partial<FakeWeChatOptions> = {}): Promise<void> {
  await fake?.close();
  clock = new FakeClock(START);
  fake = new FakeWeChat({ apps: { [A]: SA, [B]: SB }, clock, ...options });
  base = await fake.start();
}

/** Every body received is kept, to check afterwards that no secret came back. */
async function raw(path: string, init?: RequestInit): Promise<{ res: Response; text: string }> {
  const res = await fetch(base + path, init);
  const text = await res.text();
  bodies.push(text);
  return { res, text };
}
/** A WeChat answer: HTTP 200 and JSON, success or error alike. */
async function json(path: string, init?: RequestInit): Promise<Json> {
  const { res, text } = await raw(path, init);
  expect(res.status).toBe(200);
  return JSON.parse(text) as Json;
}
const secretOf = (appid: string) => (appid === B ? SB : SA);
const tokenPath = (appid = A, secret = secretOf(appid), grant = "client_credential") =>
  `/cgi-bin/token?grant_type=${grant}&appid=${appid}&secret=${secret}`;
const getToken = async (appid = A, secret = secretOf(appid)): Promise<string> => {
  const body = await json(tokenPath(appid, secret));
  expect(body.errcode).toBeUndefined();
  return body.access_token as string;
};
const post = (path: string, body: unknown, contentType = "application/json") =>
  json(path, { method: "POST", headers: { "content-type": contentType }, body: typeof body === "string" ? body : JSON.stringify(body) });
const stable = (force = false, appid = A, secret = secretOf(appid)) =>
  post("/cgi-bin/stable_token", { grant_type: "client_credential", appid, secret, force_refresh: force });
const ips = (token: string, path = "/cgi-bin/getcallbackip") => json(`${path}?access_token=${encodeURIComponent(token)}`);
const works = async (token: string) => Array.isArray((await ips(token)).ip_list);
const errcodeOf = async (p: Promise<Json>) => (await p).errcode as number | undefined;
const quotaUsed = async (token: string, cgi_path = "/cgi-bin/token") =>
  (await post(`/cgi-bin/openapi/quota/get?access_token=${token}`, { cgi_path })).quota as Json;

beforeEach(async () => {
  bodies = [];
  await setup();
});
afterEach(async () => {
  await fake.close();
  // The secret must never come back, whatever the test did.
  for (const text of bodies) expect(text).not.toMatch(new RegExp(`${SA}|${SB}`));
});

describe("/cgi-bin/token", () => {
  it("issues a new realistic token on every call", async () => {
    const { res, text } = await raw(tokenPath());
    expect(res.headers.get("content-type")).toBe(TOKEN_CT);
    const first = JSON.parse(text) as Json;
    expect(first.expires_in).toBe(7200);
    expect(first.access_token).toMatch(/^[A-Za-z0-9_-]{130,145}$/);
    const second = await getToken();
    expect(second).not.toBe(first.access_token);
    expect(fake.isValid(A, first.access_token) && fake.isValid(A, second)).toBe(true);
    expect(fake.isValid(B, second)).toBe(false);
  });

  it("keeps the previous token until the overlap ends, then 40001", async () => {
    const [t1, t2] = [await getToken(), await getToken()];
    await clock.advance(299_999);
    expect(await works(t1)).toBe(true);
    await clock.advance(1);
    expect(await ips(t1)).toEqual({ errcode: 40001, errmsg: expect.stringMatching(/^invalid credential, access_token is invalid or not latest rid: /) });
    expect(await works(t2)).toBe(true);
    // errcodeFor() (for tests of the server) tells the same without a request.
    expect([fake.errcodeFor(t1), fake.errcodeFor(t2), fake.errcodeFor("never-issued")]).toEqual([40001, 0, 40014]);
  });

  it("invalidates a token two generations back at once", async () => {
    const [t1, t2] = [await getToken(), await getToken(), await getToken()];
    expect([await errcodeOf(ips(t1)), await works(t2)]).toEqual([40001, true]);
  });

  it("expires a token after expires_in with 42001", async () => {
    await setup({ expiresIn: 600 });
    const body = await json(tokenPath());
    expect(body.expires_in).toBe(600);
    await clock.advance(599_999);
    expect(await works(body.access_token)).toBe(true);
    await clock.advance(1);
    expect(await ips(body.access_token)).toEqual({ errcode: 42001, errmsg: expect.stringMatching(/^access_token expired rid: /) });
  });

  it("answers API calls: ip lists with CIDR as text/plain, 40014, 41001", async () => {
    const t = await getToken();
    for (const path of ["/cgi-bin/getcallbackip", "/cgi-bin/get_api_domain_ip"]) {
      const { res, text } = await raw(`${path}?access_token=${t}`);
      expect(res.headers.get("content-type")).toBe("text/plain");
      expect((JSON.parse(text) as Json).ip_list.some((ip: string) => /\/\d+$/.test(ip))).toBe(true);
      expect(await ips(`${t.slice(0, -4)}AAAA`, path)).toMatchObject({ errcode: 40014, errmsg: expect.stringMatching(/^invalid access_token rid/) });
      expect(await json(path)).toMatchObject({ errcode: 41001, errmsg: expect.stringMatching(RID) });
    }
  });

  it.each([
    ["appid missing", `/cgi-bin/token?grant_type=client_credential&secret=${SA}`, 41002],
    ["secret missing", `/cgi-bin/token?grant_type=client_credential&appid=${A}`, 41004],
    ["wrong grant_type", tokenPath(A, SA, "password"), 40002],
    ["unknown appid", tokenPath("wx0000000000000000", SA), 40013],
    ["wrong secret", tokenPath(A, SB), 40125],
  ])("answers %s with %i, HTTP 200 and a rid", async (_name, path, errcode) => {
    expect(await json(path)).toEqual({ errcode, errmsg: expect.stringMatching(RID) });
    expect(fake.successfulTokenCalls()).toBe(0);
  });

  it("enforces the daily quota (successes only) and resets it at midnight in Shanghai", async () => {
    await setup({ dailyQuota: 3 });
    await json(tokenPath(A, SB));
    for (let i = 0; i < 3; i++) await getToken();
    expect(await json(tokenPath())).toEqual({ errcode: 45009, errmsg: expect.stringMatching(/getStableAccessToken.* rid: /) });
    await getToken(B);
    const s = (await stable()).access_token as string;
    expect(await quotaUsed(s)).toEqual({ daily_limit: 3, used: 3, remain: 0 });
    await clock.advance(HOUR - 1);
    expect(await errcodeOf(json(tokenPath()))).toBe(45009);
    await clock.advance(1);
    await getToken();
  });

  it("clear_quota resets the day's counter, 10 a month, then 48006", async () => {
    await setup({ dailyQuota: 1 });
    const t = await getToken();
    expect(await errcodeOf(json(tokenPath()))).toBe(45009);
    const clear = () => post(`/cgi-bin/clear_quota?access_token=${t}`, { appid: A });
    expect(await clear()).toEqual({ errcode: 0, errmsg: "ok" });
    const t2 = await getToken();
    expect(await errcodeOf(post(`/cgi-bin/clear_quota?access_token=${t2}`, { appid: B }))).toBe(40013);
    expect(await errcodeOf(json(`/cgi-bin/clear_quota?access_token=${t2}`))).toBe(43002);
    const again = () => post(`/cgi-bin/clear_quota?access_token=${t2}`, { appid: A });
    for (let i = 2; i <= 10; i++) expect(await errcodeOf(again())).toBe(0);
    expect(await errcodeOf(again())).toBe(48006);
  });
});

describe("/cgi-bin/stable_token", () => {
  it("returns the same token while valid, with the remaining lifetime", async () => {
    const s1 = await stable();
    expect(s1.expires_in).toBe(7200);
    await clock.advance(1500);
    // No force_refresh field and no content type: still a plain JSON request.
    const { res, text } = await raw("/cgi-bin/stable_token", { method: "POST", body: JSON.stringify({ grant_type: "client_credential", appid: A, secret: SA }) });
    expect(res.headers.get("content-type")).toBe(TOKEN_CT);
    expect(JSON.parse(text)).toEqual({ access_token: s1.access_token, expires_in: 7198 });
  });

  it("issues a new token in the last 5 minutes; both work until the old expires", async () => {
    const s1 = (await stable()).access_token as string;
    await clock.advance(7200_000 - 300_000 - 1);
    expect(await stable()).toEqual({ access_token: s1, expires_in: 300 });
    await clock.advance(1);
    const s2 = await stable();
    expect([s2.access_token === s1, s2.expires_in]).toEqual([false, 7200]);
    expect((await stable()).access_token).toBe(s2.access_token);
    await clock.advance(299_999);
    expect((await works(s1)) && (await works(s2.access_token))).toBe(true);
    await clock.advance(1);
    expect([await errcodeOf(ips(s1)), await works(s2.access_token)]).toEqual([42001, true]);
  });

  it("force_refresh issues a new token and the previous one dies at once (40001); sooner than 30 s returns the current", async () => {
    await setup({ stableForceRefreshPerDay: 2 });
    const s1 = (await stable()).access_token as string;
    const f1 = (await stable(true)).access_token as string;
    expect(f1).not.toBe(s1);
    // No overlap, unlike a renewal in the last 5 minutes: the previous token is invalidated.
    expect([await errcodeOf(ips(s1)), await works(f1)]).toEqual([40001, true]);
    await clock.advance(29_999);
    expect((await stable(true)).access_token).toBe(f1); // too soon: not counted, f1 unharmed
    expect(await works(f1)).toBe(true);
    await clock.advance(1);
    const f2 = (await stable(true)).access_token as string;
    expect(f2).not.toBe(f1);
    expect([await errcodeOf(ips(f1)), await works(f2)]).toEqual([40001, true]);
    await clock.advance(30_000);
    expect(await stable(true)).toMatchObject({ errcode: 45009, errmsg: expect.stringMatching(RID) });
    // A refused force changes nothing; a plain call shares the current token.
    expect([await works(f2), (await stable()).access_token]).toEqual([true, f2]);
  });

  it("allows 20 forced refreshes a day by default, then 45009 until Shanghai midnight", async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 20; i++) {
      seen.add((await stable(true)).access_token as string);
      await clock.advance(30_000);
    }
    expect(seen.size).toBe(20);
    expect(await errcodeOf(stable(true))).toBe(45009);
    await clock.advance(HOUR - 20 * 30_000);
    expect(seen.has((await stable(true)).access_token as string)).toBe(false);
  });

  it("is a lineage independent of /cgi-bin/token", async () => {
    const s = (await stable()).access_token as string;
    const [, , t] = [await getToken(), await getToken(), await getToken()];
    await clock.advance(300_000);
    expect(await works(s)).toBe(true);
    await stable(true);
    await clock.advance(300_000);
    expect(await works(t)).toBe(true);
    expect(await quotaUsed(t)).toMatchObject({ used: 3 });
    expect(await quotaUsed(t, "/cgi-bin/stable_token")).toMatchObject({ daily_limit: 500_000, used: 2 });
  });

  it("rejects GET (43002), malformed JSON (47001), form bodies (41002) and bad credentials", async () => {
    expect(await errcodeOf(json("/cgi-bin/stable_token"))).toBe(43002);
    expect(await errcodeOf(post("/cgi-bin/stable_token", '{"appid":'))).toBe(47001);
    expect(await errcodeOf(post("/cgi-bin/stable_token", `grant_type=client_credential&appid=${A}&secret=${SA}`, "application/x-www-form-urlencoded"))).toBe(41002);
    expect(await errcodeOf(stable(false, A, SB))).toBe(40125);
    expect(await errcodeOf(post("/cgi-bin/stable_token", { appid: A, secret: SA }))).toBe(40002);
    expect(fake.successfulTokenCalls()).toBe(0);
  });
});

describe("faults", () => {
  it("errcode: default text with rid, once by default, counted but not successful", async () => {
    fake.inject({ errcode: -1 });
    expect(await json(tokenPath())).toEqual({ errcode: -1, errmsg: expect.stringMatching(/^system error rid: /) });
    await getToken();
    expect([fake.calls("/cgi-bin/token", A), fake.successfulTokenCalls(A)]).toEqual([2, 1]);
  });

  it("times, appId and path select which requests fail", async () => {
    fake.inject({ errcode: 40164, appId: B, times: 2 });
    fake.inject({ path: "/cgi-bin/stable_token", errcode: 45011, errmsg: "slow down", times: Infinity });
    await getToken(A);
    expect((await json(tokenPath(B))).errmsg).toMatch(/^invalid ip 127\.0\.0\.1 .*not in whitelist rid: /);
    expect(await errcodeOf(json(tokenPath(B, SB)))).toBe(40164);
    await getToken(B);
    for (let i = 0; i < 5; i++) expect(await stable()).toEqual({ errcode: 45011, errmsg: expect.stringMatching(/^slow down rid: /) });
    fake.clearFaults();
    const t = (await stable()).access_token as string;
    fake.inject({ path: "*", errcode: -1 });
    expect(await errcodeOf(ips(t))).toBe(-1);
  });

  it("garbage answers 200 with a body that is not JSON", async () => {
    fake.inject({ garbage: true });
    const { res, text } = await raw(tokenPath());
    expect([res.status, res.headers.get("content-type")]).toEqual([200, TOKEN_CT]);
    expect(() => JSON.parse(text)).toThrow();
    expect(fake.successfulTokenCalls()).toBe(0);
  });

  it("httpStatus answers that status with HTML", async () => {
    fake.inject({ httpStatus: 502 });
    const { res, text } = await raw(tokenPath());
    expect([res.status, res.headers.get("content-type")]).toEqual([502, "text/html"]);
    expect(text).toMatch(/<html>[\s\S]*502 Bad Gateway/);
  });

  it("drop destroys the socket without answering", async () => {
    fake.inject({ drop: true });
    await expect(fetch(base + tokenPath())).rejects.toThrow();
    await getToken();
    expect(fake.calls("/cgi-bin/token")).toBe(2);
  });

  it("delayMs waits in real time, alone or with an error", async () => {
    fake.inject({ delayMs: 150 });
    fake.inject({ delayMs: 100, errcode: -1 });
    let t0 = performance.now();
    await getToken();
    expect(performance.now() - t0).toBeGreaterThanOrEqual(140);
    t0 = performance.now();
    expect(await errcodeOf(json(tokenPath()))).toBe(-1);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(90);
  });

  it("close() is prompt with a delayed request and keep-alive connections open", async () => {
    await getToken();
    fake.inject({ delayMs: 10_000 });
    const pending = fetch(base + tokenPath()).then((r) => r.text());
    while (fake.calls("/cgi-bin/token") < 2) await new Promise((r) => setTimeout(r, 5));
    const t0 = performance.now();
    await fake.close();
    expect(performance.now() - t0).toBeLessThan(1000);
    await expect(pending).rejects.toThrow();
  });
});

describe("hooks, counts and the control API", () => {
  it("invalidateTokens makes every token of the app answer 40001", async () => {
    const t = await getToken();
    const s = (await stable()).access_token as string;
    const other = await getToken(B, SB);
    fake.invalidateTokens(A);
    expect([await errcodeOf(ips(t)), await errcodeOf(ips(s))]).toEqual([40001, 40001]);
    expect(fake.isValid(A, s)).toBe(false);
    expect(await works(other)).toBe(true);
    expect((await stable()).access_token).not.toBe(s);
  });

  it("counts calls per endpoint and app, successes, and resets", async () => {
    const t = await getToken();
    await Promise.all([stable(false, B), json(tokenPath(A, SB)), ips(t), ips(t)]);
    expect([fake.calls("/cgi-bin/token"), fake.calls("/cgi-bin/token", A), fake.calls("/cgi-bin/token", B)]).toEqual([2, 2, 0]);
    expect([fake.calls("/cgi-bin/getcallbackip", A), fake.calls("/cgi-bin/stable_token", B)]).toEqual([2, 1]);
    expect([fake.successfulTokenCalls(), fake.successfulTokenCalls(A), fake.successfulTokenCalls(B)]).toEqual([2, 1, 1]);
    fake.resetCounts();
    expect(fake.calls("/cgi-bin/token") + fake.successfulTokenCalls()).toBe(0);
    expect((await raw("/cgi-bin/nope")).res.status).toBe(404);
  });

  it("is driven over HTTP by /_fake/", async () => {
    expect((await post("/_fake/faults", { errcode: -1, times: null })).ok).toBe(true);
    for (let i = 0; i < 3; i++) expect(await errcodeOf(json(tokenPath()))).toBe(-1);
    const stats = await json("/_fake/stats");
    expect(stats.calls["/cgi-bin/token"]).toEqual({ total: 3, byApp: { [A]: 3 } });
    expect(stats.successfulTokenCalls.total).toBe(0);
    await json("/_fake/faults", { method: "DELETE" });
    const t = await getToken();
    await post(`/_fake/invalidate?appid=${A}`, "");
    expect(await errcodeOf(ips(t))).toBe(40001);
    expect((await raw("/_fake/faults", { method: "POST", body: '{"times":0}' })).res.status).toBe(400);
    expect((await raw("/_fake/invalidate?appid=wxnope", { method: "POST" })).res.status).toBe(404);
  });

  it("reads a fault as JSON whatever its label (curl -d says form-encoded), and refuses one with no effect", async () => {
    const form = "application/x-www-form-urlencoded";
    expect(await post("/_fake/faults", { errcode: 40164 }, form)).toEqual({ ok: true, activeFaults: 1 });
    expect(await errcodeOf(json(tokenPath()))).toBe(40164);
    for (const [body, error] of [
      ["{}", /a fault needs an effect/],
      ['{"appId":"wx1","times":3}', /a fault needs an effect/],
      ['{"delayMs":0}', /a fault needs an effect/],
      ["", /body is empty/],
      ["errcode=40164", /body is not JSON/],
      ["[1]", /not an object/],
    ] as const) {
      const { res, text } = await raw("/_fake/faults", { method: "POST", headers: { "content-type": form }, body });
      expect(res.status).toBe(400);
      expect((JSON.parse(text) as Json).error).toMatch(error);
    }
    expect(() => fake.inject({ appId: A })).toThrow(/no effect/);
    expect((await json("/_fake/stats")).calls["/cgi-bin/token"].total).toBe(1);
  });

  it("never echoes the secret, even in errors and stats", async () => {
    await getToken();
    await stable(false, B, SB);
    await json(tokenPath(B, SA));
    await json(tokenPath(A, "x", "bad"));
    await stable(false, A, SB);
    fake.inject({ path: "*", errcode: 40164, times: 2 });
    await json(tokenPath());
    await stable();
    const all = [...bodies, JSON.stringify(await json("/_fake/stats"))].join("\n");
    expect(all).toContain("40125");
    expect([all.includes(SA), all.includes(SB)]).toEqual([false, false]);
  });
});

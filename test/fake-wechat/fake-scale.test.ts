/**
 * The fake component at a platform's scale (what `npm run bench -- scale`
 * relies on): seeded accounts in list order, get_authorizer_list pages, the
 * token progress counters, and the busiest-second and busiest-minute rates,
 * exact on the fake clock.
 */
import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { FakeClock } from "../../src/clock.js";
import { FakeWeChat, seededAuthorizerAppId } from "../../src/fake-wechat/index.js";

const COMPONENT = "wxcomponent0000001";
const SECRET = "component-secret-NEVER-LEAK";
const C = "/cgi-bin/component";

let fake: FakeWeChat | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

async function setup(extra: { authorizers?: Record<string, object>; seedAuthorizers?: number } = {}) {
  const clock = new FakeClock();
  fake = new FakeWeChat({
    apps: {},
    clock,
    component: { appId: COMPONENT, secret: SECRET, token: "push-token", encodingAesKey: "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", ...extra },
  });
  await fake.start();
  return { clock, fake };
}

async function http(method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await request(`${fake!.url}${path}`, { method, body: body === undefined ? undefined : JSON.stringify(body), headers: { "content-type": "application/json" } });
  return { status: res.statusCode, json: (await res.body.json()) as Record<string, unknown> };
}

async function componentToken(f: FakeWeChat): Promise<string> {
  await f.component.pushTicket().catch(() => undefined); // no push URL: the ticket is made all the same
  const r = await http("POST", `${C}/api_component_token`, { component_appid: COMPONENT, component_appsecret: SECRET, component_verify_ticket: f.component.currentTicket() });
  return r.json["component_access_token"] as string;
}

type Listed = { authorizer_appid: string; refresh_token: string; auth_time: number };

describe("fake component at scale", () => {
  it("seeds accounts named wx + 16 hex digits, each with its own refresh token, listed in authorization order", async () => {
    const { clock, fake } = await setup({ authorizers: { wxauth000000000001: {} }, seedAuthorizers: 3 });
    expect(seededAuthorizerAppId(0)).toBe("wx0000000000000000");
    expect(seededAuthorizerAppId(255)).toBe("wx00000000000000ff");
    await clock.advance(1000);
    expect(fake.component.seedAuthorizers(2)).toEqual({ first: seededAuthorizerAppId(3), last: seededAuthorizerAppId(4) });
    await fake.component.authorize("wxlater00000000001").catch(() => undefined);
    const list = (offset: number, count: number) => fake.component.state.authorizerList({ component_appid: COMPONENT, offset, count });
    const all = list(0, 500);
    if (!all.ok) throw new Error("list refused");
    const appIds = (all.body["list"] as Listed[]).map((a) => a.authorizer_appid);
    // Same authorization time: by appid ("wx0..." before "wxauth..."); later ones after.
    expect(appIds).toEqual(["wx0000000000000000", "wx0000000000000001", "wx0000000000000002", "wxauth000000000001", "wx0000000000000003", "wx0000000000000004", "wxlater00000000001"]);
    expect(all.body["total_count"]).toBe(7);
    const tokens = (all.body["list"] as Listed[]).map((a) => a.refresh_token);
    expect(new Set(tokens).size).toBe(7);
    for (const a of all.body["list"] as Listed[]) expect(a.refresh_token).toBe(fake.component.refreshTokenOf(a.authorizer_appid));

    // A de-authorized account leaves the list; authorizing again puts it last.
    await fake.component.deauthorize(seededAuthorizerAppId(1)).catch(() => undefined);
    await clock.advance(1000);
    await fake.component.authorize(seededAuthorizerAppId(1)).catch(() => undefined);
    const after = list(0, 500);
    if (!after.ok) throw new Error("list refused");
    expect((after.body["list"] as Listed[]).map((a) => a.authorizer_appid)).toEqual([...appIds.filter((a) => a !== seededAuthorizerAppId(1)), seededAuthorizerAppId(1)]);
    const page = list(2, 3);
    expect(page.ok && (page.body["list"] as Listed[]).map((a) => a.authorizer_appid)).toEqual(appIds.slice(3, 6));
  });

  // The list used to be filtered and sorted whole for every page: 600 pages of 300,000 took 17 s here. Each page is a slice now.
  it("pages through 300,000 accounts: every one once, in order, in O(page) per page", { timeout: 8000 }, async () => {
    const { fake } = await setup({ seedAuthorizers: 300_000 });
    let next = 0;
    for (let offset = 0; ; offset += 500) {
      const p = fake.component.state.authorizerList({ component_appid: COMPONENT, offset, count: 500 });
      if (!p.ok) throw new Error(`list refused: ${p.errcode}`);
      expect(p.body["total_count"]).toBe(300_000);
      const items = p.body["list"] as Listed[];
      if (items.length === 0) break;
      for (const a of items) if (a.authorizer_appid === seededAuthorizerAppId(next)) next++;
    }
    expect(next).toBe(300_000);
  });

  it("counts accounts issued a token and refreshes, over HTTP too; seeds over the control API", async () => {
    const { clock, fake } = await setup({ seedAuthorizers: 2 });
    const ct = await componentToken(fake);
    const refresh = async (appId: string) =>
      http("POST", `${C}/api_authorizer_token?component_access_token=${ct}`, { component_appid: COMPONENT, authorizer_appid: appId, authorizer_refresh_token: fake.component.refreshTokenOf(appId) });
    expect((await refresh(seededAuthorizerAppId(0))).json["authorizer_access_token"]).toEqual(expect.any(String));
    await refresh(seededAuthorizerAppId(0));
    await refresh(seededAuthorizerAppId(1));
    expect(fake.component.tokenProgress()).toEqual({ authorized: 2, withToken: 2, refreshes: 1, expiredBeforeRefresh: 0, lastAppId: seededAuthorizerAppId(1) });
    await clock.advance(7200_000); // the first account's token expired: its next refresh is late
    const ct2 = await componentToken(fake);
    await http("POST", `${C}/api_authorizer_token?component_access_token=${ct2}`, { component_appid: COMPONENT, authorizer_appid: seededAuthorizerAppId(0), authorizer_refresh_token: fake.component.refreshTokenOf(seededAuthorizerAppId(0)) });
    expect(fake.component.tokenProgress()).toMatchObject({ refreshes: 2, expiredBeforeRefresh: 1, lastAppId: seededAuthorizerAppId(0) });

    expect(await http("POST", "/_fake/component/seed?n=3")).toEqual({ status: 200, json: { ok: true, first: seededAuthorizerAppId(2), last: seededAuthorizerAppId(4), authorized: 5 } });
    expect((await http("POST", "/_fake/component/seed?n=0")).status).toBe(400);
    expect((await http("POST", "/_fake/component/seed?n=1000001")).status).toBe(400);
    expect((await http("GET", "/_fake/component/progress")).json).toEqual({ authorized: 5, withToken: 2, refreshes: 2, expiredBeforeRefresh: 1, lastAppId: seededAuthorizerAppId(0) });
  });

  it("rates: the busiest 1 s and 60 s windows, per path and in total, on the injected clock; reset with the counts", async () => {
    const { clock, fake } = await setup();
    const hit = async (n: number, path = "/cgi-bin/getcallbackip") => {
      for (let i = 0; i < n; i++) await http("GET", path);
    };
    await hit(3);
    await clock.advance(999);
    await hit(2); // (t-1 s, t] holds 5
    await clock.advance(1);
    await hit(1); // the first 3 left the second: 3
    await clock.advance(59_000);
    await hit(1); // t0+60 s: the first 3 left the minute: 4
    await hit(2, "/cgi-bin/token");
    const rates = fake.rates();
    expect(rates.byPath["/cgi-bin/getcallbackip"]).toEqual({ calls: 7, busiestSecond: 5, busiestMinute: 6 });
    expect(rates.byPath["/cgi-bin/token"]).toEqual({ calls: 2, busiestSecond: 2, busiestMinute: 2 });
    expect(rates.total).toEqual({ calls: 9, busiestSecond: 5, busiestMinute: 6 });
    expect((await http("GET", "/_fake/rates")).json).toEqual(rates);

    expect((await http("DELETE", "/_fake/stats")).json).toEqual({ ok: true });
    expect(fake.rates()).toEqual({ total: { calls: 0, busiestSecond: 0, busiestMinute: 0 }, byPath: {} });
    expect(fake.calls("/cgi-bin/getcallbackip")).toBe(0);
    // Past the ring's first size (1,024), one call a millisecond: a second holds 1,000 of them.
    for (let i = 0; i < 1500; i++) fake["stats"].count("/x", undefined, clock.now() + i);
    expect(fake.rates().byPath["/x"]).toEqual({ calls: 1500, busiestSecond: 1000, busiestMinute: 1500 });
  });
});

/**
 * The fake Open Platform component over real HTTP: pushes verified and
 * decrypted by a receiver using src/openplatform, and the token chain
 * ticket -> component token -> query_auth -> authorizer token -> refresh.
 */
import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { FakeClock } from "../../src/clock.js";
import { FakeWeChat } from "../../src/fake-wechat/index.js";
import { pushReceiver, type PushReceiver } from "../support/push-receiver.js";

const KEYS = { receiverId: "wxcomponent0000001", token: "push-token-NEVER-LEAK", encodingAesKey: "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG" };
const SECRET = "component-secret-NEVER-LEAK";

let fake: FakeWeChat | undefined;
let recv: PushReceiver | undefined;
afterEach(async () => {
  await fake?.close();
  await recv?.close();
  fake = recv = undefined;
});

async function setup(extra: { authorizers?: Record<string, { funcInfo?: number[] }>; pushIntervalMs?: number } = {}, keys = KEYS) {
  const clock = new FakeClock();
  recv = await pushReceiver(keys);
  fake = new FakeWeChat({ apps: {}, clock, component: { appId: KEYS.receiverId, secret: SECRET, token: KEYS.token, encodingAesKey: KEYS.encodingAesKey, pushUrl: recv.url, ...extra } });
  await fake.start();
  return { clock, fake, recv };
}

async function call(path: string, body: unknown, componentToken?: string): Promise<Record<string, unknown>> {
  const q = componentToken === undefined ? "" : `?component_access_token=${encodeURIComponent(componentToken)}`;
  const res = await request(`${fake!.url}${path}${q}`, { method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json" } });
  expect(res.statusCode).toBe(200);
  return (await res.body.json()) as Record<string, unknown>;
}

const C = "/cgi-bin/component";
const componentToken = (ticket: string) => call(`${C}/api_component_token`, { component_appid: KEYS.receiverId, component_appsecret: SECRET, component_verify_ticket: ticket });

describe("fake component pushes", () => {
  it("pushes a ticket the receiver verifies and decrypts, and hears its answer", async () => {
    const { fake, recv, clock } = await setup();
    const r = await fake.component.pushTicket();
    expect(r).toMatchObject({ status: 200, body: "success" });
    expect(recv.pushes[0]!.fields).toEqual({ AppId: KEYS.receiverId, CreateTime: String(Math.floor(clock.now() / 1000)), InfoType: "component_verify_ticket", ComponentVerifyTicket: fake.component.currentTicket() });
    expect(fake.component.currentTicket()).toMatch(/^ticket@@@/);
  });

  it("pushes every pushIntervalMs on the injected clock, and on api_start_push_ticket", async () => {
    const { fake, recv, clock } = await setup({ pushIntervalMs: 60_000 });
    await clock.advance(59_999);
    expect(recv.pushes).toHaveLength(0);
    const first = recv.next();
    await clock.advance(1);
    await first;
    const second = recv.next();
    await clock.advance(60_000);
    expect((await second).fields["ComponentVerifyTicket"]).toBe(fake.component.currentTicket());
    const third = recv.next();
    expect(await call(`${C}/api_start_push_ticket`, { component_appid: KEYS.receiverId, component_secret: SECRET })).toEqual({ errcode: 0, errmsg: "ok" });
    await third;
    expect(recv.pushes).toHaveLength(3);
    expect(new Set(recv.pushes.map((p) => p.fields["ComponentVerifyTicket"])).size).toBe(3);
    expect((await call(`${C}/api_start_push_ticket`, { component_appid: KEYS.receiverId, component_secret: "wrong" }))["errcode"]).toBe(40125);
    expect(fake.component.pushFailures).toBe(0);
  });

  it("a receiver with the wrong token or key refuses the push, and the fake reports its answer", async () => {
    const { fake, recv } = await setup({}, { ...KEYS, token: "another-token" });
    expect(await fake.component.pushTicket()).toMatchObject({ status: 400, body: "bad push" });
    expect(recv.rejected).toEqual(["bad_signature"]);
  });
});

describe("fake component token chain", () => {
  it("ticket -> component token -> query_auth -> authorizer token -> refresh, rotation, deauthorization", async () => {
    const { fake, recv, clock } = await setup();
    await fake.component.pushTicket();
    const ticket = recv.pushes[0]!.fields["ComponentVerifyTicket"]!;
    const ct = await componentToken(ticket);
    expect(ct).toEqual({ component_access_token: expect.any(String), expires_in: 7200 });
    const CT = ct["component_access_token"] as string;

    const auth = await fake.component.authorize("wxauthorizer000001");
    const event = recv.pushes[1]!.fields;
    expect(event).toMatchObject({ InfoType: "authorized", AuthorizerAppid: "wxauthorizer000001", AuthorizationCode: auth.authorizationCode });
    expect(Number(event["AuthorizationCodeExpiredTime"]) - Number(event["CreateTime"])).toBe(3600);

    expect((await call(`${C}/api_query_auth`, { component_appid: KEYS.receiverId, authorization_code: auth.authorizationCode }))["errcode"]).toBe(41001);
    const q = (await call(`${C}/api_query_auth`, { component_appid: KEYS.receiverId, authorization_code: auth.authorizationCode }, CT))["authorization_info"] as Record<string, unknown>;
    expect(q).toMatchObject({ authorizer_appid: "wxauthorizer000001", expires_in: 7200, func_info: expect.arrayContaining([{ funcscope_category: { id: 1 } }]) });
    expect(fake.component.isAuthorizerTokenValid("wxauthorizer000001", q["authorizer_access_token"] as string)).toBe(true);
    // A code is good for one exchange.
    expect((await call(`${C}/api_query_auth`, { component_appid: KEYS.receiverId, authorization_code: auth.authorizationCode }, CT))["errcode"]).toBe(61009);

    const refresh1 = q["authorizer_refresh_token"] as string;
    const r1 = await call(`${C}/api_authorizer_token`, { component_appid: KEYS.receiverId, authorizer_appid: "wxauthorizer000001", authorizer_refresh_token: refresh1 }, CT);
    expect(r1).toEqual({ authorizer_access_token: expect.any(String), expires_in: 7200, authorizer_refresh_token: refresh1 });
    // The previous access token overlaps for 5 minutes.
    expect(fake.component.isAuthorizerTokenValid("wxauthorizer000001", q["authorizer_access_token"] as string)).toBe(true);
    await clock.advance(300_000);
    expect(fake.component.isAuthorizerTokenValid("wxauthorizer000001", q["authorizer_access_token"] as string)).toBe(false);
    expect(fake.component.isAuthorizerTokenValid("wxauthorizer000001", r1["authorizer_access_token"] as string)).toBe(true);

    // Re-authorization rotates the refresh token.
    const again = await fake.component.authorize("wxauthorizer000001");
    expect(recv.pushes[2]!.fields).toMatchObject({ InfoType: "updateauthorized" });
    const q2 = (await call(`${C}/api_query_auth`, { component_appid: KEYS.receiverId, authorization_code: again.authorizationCode }, CT))["authorization_info"] as Record<string, unknown>;
    const refresh2 = q2["authorizer_refresh_token"] as string;
    expect(refresh2).not.toBe(refresh1);
    expect((await call(`${C}/api_authorizer_token`, { component_appid: KEYS.receiverId, authorizer_appid: "wxauthorizer000001", authorizer_refresh_token: refresh1 }, CT))["errcode"]).toBe(61023);
    const r2 = await call(`${C}/api_authorizer_token`, { component_appid: KEYS.receiverId, authorizer_appid: "wxauthorizer000001", authorizer_refresh_token: refresh2 }, CT);
    expect(r2["authorizer_refresh_token"]).toBe(refresh2);

    await fake.component.deauthorize("wxauthorizer000001");
    expect(recv.pushes[3]!.fields).toEqual({ AppId: KEYS.receiverId, CreateTime: expect.any(String), InfoType: "unauthorized", AuthorizerAppid: "wxauthorizer000001" });
    const after = await call(`${C}/api_authorizer_token`, { component_appid: KEYS.receiverId, authorizer_appid: "wxauthorizer000001", authorizer_refresh_token: refresh2 }, CT);
    expect(after).toMatchObject({ errcode: 61023, errmsg: expect.stringMatching(/^refresh_token is invalid rid: /) });
    expect(fake.component.isAuthorizerTokenValid("wxauthorizer000001", r2["authorizer_access_token"] as string)).toBe(false);
  });

  it("component tokens: overlap, 40001 and 42001, 41001; tickets: 61006 and 61005 after 12 hours", async () => {
    const { fake, clock } = await setup();
    expect((await componentToken("ticket@@@never-pushed"))["errcode"]).toBe(61006);
    await fake.component.pushTicket();
    const ticket = fake.component.currentTicket()!;
    const first = (await componentToken(ticket))["component_access_token"] as string;
    const second = (await componentToken(ticket))["component_access_token"] as string;
    const list = (t: string) => call(`${C}/api_get_authorizer_list`, { component_appid: KEYS.receiverId, offset: 0, count: 10 }, t);
    expect((await list(first))["total_count"]).toBe(0);
    await clock.advance(300_000);
    expect((await list(first))["errcode"]).toBe(40001);
    expect((await list("made-up"))["errcode"]).toBe(40001);
    const res = await request(`${fake.url}${C}/api_get_authorizer_list`, { method: "POST", body: "{}" });
    expect(((await res.body.json()) as { errcode: number }).errcode).toBe(41001);
    await clock.advance(7200_000);
    expect((await list(second))["errcode"]).toBe(42001);
    // The timer pushed newer tickets meanwhile (no receiver answer needed); the first one expires after 12 hours.
    clock.set(clock.now() + 12 * 3_600_000);
    expect((await componentToken(ticket))["errcode"]).toBe(61005);
  });

  it("get_authorizer_list pages the pre-authorized accounts; faults inject 61004 and 45009", async () => {
    const authorizers = Object.fromEntries(Array.from({ length: 7 }, (_, i) => [`wxauth${String(i).padStart(12, "0")}`, {}]));
    const { fake } = await setup({ authorizers });
    await fake.component.pushTicket();
    fake.inject({ path: `${C}/api_component_token`, errcode: 61004 });
    expect(await componentToken(fake.component.currentTicket()!)).toMatchObject({ errcode: 61004, errmsg: expect.stringMatching(/^access clientip is not registered/) });
    const CT = (await componentToken(fake.component.currentTicket()!))["component_access_token"] as string;
    const page = async (offset: number, count: number) => call(`${C}/api_get_authorizer_list`, { component_appid: KEYS.receiverId, offset, count }, CT);
    const seen: string[] = [];
    for (let offset = 0; ; offset += 3) {
      const p = await page(offset, 3);
      expect(p["total_count"]).toBe(7);
      const items = p["list"] as Array<{ authorizer_appid: string; refresh_token: string; auth_time: number }>;
      if (items.length === 0) break;
      for (const it of items) {
        expect(it.refresh_token).toBe(fake.component.refreshTokenOf(it.authorizer_appid));
        seen.push(it.authorizer_appid);
      }
    }
    expect(seen).toEqual(Object.keys(authorizers).sort());
    expect((await page(0, 501))["errcode"]).toBe(40097);
    fake.inject({ path: `${C}/api_authorizer_token`, appId: seen[0], errcode: 45009 });
    expect((await call(`${C}/api_authorizer_token`, { component_appid: KEYS.receiverId, authorizer_appid: seen[0], authorizer_refresh_token: fake.component.refreshTokenOf(seen[0]!) }, CT))["errcode"]).toBe(45009);
    expect((await call(`${C}/api_authorizer_token`, { component_appid: KEYS.receiverId, authorizer_appid: seen[0], authorizer_refresh_token: fake.component.refreshTokenOf(seen[0]!) }, CT))["authorizer_access_token"]).toEqual(expect.any(String));
  });

  it("without `component` the paths are 404 and fake.component throws", async () => {
    fake = new FakeWeChat({ apps: { wx1: "s" } });
    await fake.start();
    const res = await request(`${fake.url}${C}/api_component_token`, { method: "POST", body: "{}" });
    expect(res.statusCode).toBe(404);
    await res.body.text();
    expect(() => fake!.component).toThrow(/no component/);
  });
});

/**
 * The Open Platform chain end to end, in process: the fake WeChat pushes
 * signed, encrypted tickets and authorization events over real HTTP to the
 * server's push receiver; the server gets the component token and the
 * authorizers' tokens, serves them over gRPC, and keeps what must not be lost.
 */
import { status, type ServiceError } from "@grpc/grpc-js";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { AuthorizerStatus } from "../../generated/wxtoken/v1/token_service.js";
import { FakeClock } from "../../src/clock.js";
import { appHealthName } from "../../src/wxtoken.js";
import { statusDetailsOf } from "../../packages/client/src/status-details.js";
import { collect, eventually, grpcError } from "../support/harness.js";
import { AES_KEY, AUTH1, AUTH2, COMPONENT, COMPONENT_SECRET, MESSAGE_TOKEN, PlatformHarness } from "../support/platform.js";

let running: PlatformHarness[] = [];
afterEach(async () => {
  await Promise.all(running.map((p) => p.stop()));
  running = [];
});

async function start(o: Parameters<typeof PlatformHarness.start>[0] = {}): Promise<PlatformHarness> {
  const p = await PlatformHarness.start(o);
  running.push(p);
  return p;
}

/** Lets zero-delay timers on the fake clock run until check passes. */
function until(p: PlatformHarness, check: () => void | Promise<void>, timeoutMs = 5000): Promise<void> {
  return eventually(async () => {
    await p.clock.advance(0);
    await check();
  }, timeoutMs);
}

/**
 * Moves the clock a second per try until check passes: a retry the platform
 * asks for (a sync restored a refresh token) takes the next free slot under
 * its upstream ceiling, a few milliseconds on.
 */
function untilPaced(p: PlatformHarness, check: () => void | Promise<void>): Promise<void> {
  return eventually(async () => {
    await p.clock.advance(1000);
    await check();
  });
}

/**
 * A platform with a ticket pushed and its component token held. With no
 * authorizer stored, the server then reads WeChat's authorizer list once (it
 * cannot tell a new platform from a lost store): that is waited for too.
 */
async function withComponentToken(o: Parameters<typeof start>[0] = {}, storedAuthorizers = false): Promise<PlatformHarness> {
  const p = await start(o);
  const lists = p.calls("api_get_authorizer_list");
  await until(p, async () => {
    const t = await p.h.getToken(COMPONENT, 300);
    expect(p.fake.component.isComponentTokenValid(t.token!.accessToken)).toBe(true);
    if (!storedAuthorizers) expect(p.calls("api_get_authorizer_list")).toBe(lists + 1);
  });
  return p;
}

function reasonOf(err: ServiceError): string | undefined {
  return statusDetailsOf(err.metadata)?.errorInfo?.reason;
}

describe("the chain from the pushed ticket to the authorizers' tokens", () => {
  it("with no ticket held it asks WeChat to push one, stores it, and gets the component token", async () => {
    const p = await start();
    const err = await grpcError(p.h.getToken(COMPONENT, 300));
    expect(err.code).toBe(status.UNAVAILABLE);
    expect(reasonOf(err)).toBe("NO_VERIFY_TICKET");
    await until(p, async () => {
      const t = await p.h.getToken(COMPONENT, 300);
      expect(p.fake.component.isComponentTokenValid(t.token!.accessToken)).toBe(true);
    });
    // One request for a push however often the component token was tried, and one token fetch.
    expect(p.calls("api_start_push_ticket")).toBe(1);
    expect(p.calls("api_component_token")).toBe(1);
    const list = await p.list();
    expect(list.verifyTicketExpiresAt!.getTime() - list.verifyTicketReceivedAt!.getTime()).toBe(12 * 3600_000);
    expect(list.componentTokenVersion).toBe(1);
  });

  it("an authorization is exchanged and served at once; de-authorization stops serving it", async () => {
    const p = await withComponentToken();
    const a1 = await p.fake.component.authorize(AUTH1);
    const a2 = await p.fake.component.authorize(AUTH2);
    expect(a1).toMatchObject({ status: 200, body: "success" });
    expect(a2).toMatchObject({ status: 200, body: "success" });
    for (const appId of [AUTH1, AUTH2]) {
      const t = (await p.h.getToken(appId, 500)).token!;
      expect(p.fake.component.isAuthorizerTokenValid(appId, t.accessToken)).toBe(true);
    }
    // The token query_auth handed out is served: no api_authorizer_token call yet.
    expect(p.calls("api_authorizer_token")).toBe(0);
    const list = await p.list();
    expect(list.authorizers.map((a) => [a.appId, a.status, a.tokenVersion])).toEqual([
      [AUTH1, AuthorizerStatus.AUTHORIZER_STATUS_ACTIVE, 1],
      [AUTH2, AuthorizerStatus.AUTHORIZER_STATUS_ACTIVE, 1],
    ]);

    expect(await p.fake.component.deauthorize(AUTH2)).toMatchObject({ status: 200, body: "success" });
    const gone = await grpcError(p.h.getToken(AUTH2, 300));
    expect(gone.code).toBe(status.NOT_FOUND);
    expect((await p.list()).authorizers.map((a) => a.appId)).toEqual([AUTH1]);
  });

  it("authorizer tokens refresh ahead of expiry, with the component token, and a watcher sees each one", async () => {
    const p = await withComponentToken();
    await p.fake.component.authorize(AUTH1);
    const first = (await p.h.getToken(AUTH1)).token!;
    const watch = collect(p.h.client.watchToken({ appId: AUTH1, knownVersion: first.version, knownFingerprint: first.fingerprint, kind: 0, agent: "", platformId: "" }));
    for (let i = 0; i < 3; i++) await p.clock.advanceTo(((await p.h.getToken(AUTH1)).token!.refreshAt!).getTime());
    await until(p, () => expect(watch.messages.length).toBeGreaterThanOrEqual(3));
    const versions = watch.messages.map((m) => m.token!.version);
    expect(versions).toEqual([...versions].sort((a, b) => a - b));
    const now = (await p.h.getToken(AUTH1)).token!;
    expect(now.version).toBeGreaterThan(first.version);
    expect(p.fake.component.isAuthorizerTokenValid(AUTH1, now.accessToken)).toBe(true);
    expect(p.calls("api_authorizer_token", AUTH1)).toBeGreaterThanOrEqual(3);
  });

  it("a re-authorization replaces the refresh token and the served token", async () => {
    const p = await withComponentToken();
    await p.fake.component.authorize(AUTH1);
    const before = (await p.h.getToken(AUTH1)).token!;
    const again = await p.fake.component.authorize(AUTH1);
    expect(again.fields["InfoType"]).toBe("updateauthorized");
    const after = (await p.h.getToken(AUTH1)).token!;
    expect(after.version).toBe(before.version + 1);
    // The next refresh uses the new refresh token (the old one answers 61023).
    await p.clock.advanceTo(after.refreshAt!.getTime());
    await until(p, async () => expect((await p.h.getToken(AUTH1)).token!.version).toBe(after.version + 1));
    expect((await p.list()).authorizers[0]!.status).toBe(AuthorizerStatus.AUTHORIZER_STATUS_ACTIVE);
  });
});

describe("authorizers' JS-SDK tickets", () => {
  it("authorizerTickets: each authorizer's jsapi ticket is held and signs pages; it goes with the authorizer", async () => {
    const p = await withComponentToken({ platform: { authorizerTickets: ["jsapi"] } });
    await p.fake.component.authorize(AUTH1);
    const ticket = (await p.h.get({ appId: AUTH1, kind: 2 }, 500)).token!;
    expect(ticket.accessToken).toMatch(/./);
    expect(ticket.kind).toBe(2);
    const signed = await p.h.sign({ appId: AUTH1, url: "https://h5.example.com/page" });
    expect(signed.ticketFingerprint).toBe(ticket.fingerprint);
    // The ticket was fetched with the authorization's token: no authorizer token fetch, no parent refresh.
    expect(p.calls("api_authorizer_token")).toBe(0);
    await p.fake.component.deauthorize(AUTH1);
    expect((await grpcError(p.h.get({ appId: AUTH1, kind: 2 }, 300))).code).toBe(status.NOT_FOUND);
  });
});

describe("refresh tokens", () => {
  it("a refresh token WeChat rotates replaces the stored one: the next refresh uses it, and a restart still has it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "wxtoken-op-"));
    const storePath = join(dir, "tokens.json");
    const p = await withComponentToken({ storePath });
    await p.fake.component.authorize(AUTH1);
    const original = p.fake.component.refreshTokenOf(AUTH1)!;
    p.fake.component.rotateRefreshTokenOnNextRefresh(AUTH1);
    const t = (await p.h.getToken(AUTH1)).token!;
    await p.clock.advanceTo(t.refreshAt!.getTime());
    await until(p, async () => expect((await p.h.getToken(AUTH1)).token!.version).toBe(t.version + 1));
    const rotated = p.fake.component.refreshTokenOf(AUTH1)!;
    expect(rotated).not.toBe(original);
    // Durable before the token was served, and the old one (now refused by WeChat) is gone.
    await until(p, () => expect(readFileSync(storePath, "utf8")).toContain(rotated));
    expect(readFileSync(storePath, "utf8")).not.toContain(original);
    // The next refresh works with it (the original would get 61023).
    const t2 = (await p.h.getToken(AUTH1)).token!;
    await p.clock.advanceTo(t2.refreshAt!.getTime());
    await until(p, async () => expect((await p.h.getToken(AUTH1)).token!.version).toBe(t2.version + 1));
    expect((await p.list()).authorizers[0]!.status).toBe(AuthorizerStatus.AUTHORIZER_STATUS_ACTIVE);
    expect(p.h.logs.text()).not.toContain(rotated);
  });
});

describe("failures of the chain", () => {
  it("61005/61006: the refused ticket is not used again; a new push is asked for and recovers", async () => {
    const p = await start({ platform: { startPushMinIntervalSeconds: 1 } });
    p.fake.inject({ path: "/cgi-bin/component/api_component_token", errcode: 61006, times: 1 });
    // The first ticket push: the token fetch with it gets 61006.
    await until(p, () => expect(p.calls("api_component_token")).toBe(1));
    expect(reasonOf(await grpcError(p.h.getToken(COMPONENT, 300)))).toBe("VERIFY_TICKET_INVALID");
    // After the minimum interval (and the retry's backoff) a second push is asked for; the new ticket works.
    await p.clock.advance(2000);
    await until(p, async () => {
      const t = await p.h.getToken(COMPONENT, 300);
      expect(p.fake.component.isComponentTokenValid(t.token!.accessToken)).toBe(true);
    });
    expect(p.calls("api_start_push_ticket")).toBe(2);
    expect(p.calls("api_component_token")).toBe(2);
  });

  it("61023 marks the authorizer as needing re-authorization and stops serving its token at once; a new authorization heals it", async () => {
    const p = await withComponentToken();
    await p.fake.component.authorize(AUTH1);
    p.fake.inject({ path: "/cgi-bin/component/api_authorizer_token", errcode: 61023, times: Infinity });
    const t = (await p.h.getToken(AUTH1)).token!;
    await p.clock.advanceTo(t.refreshAt!.getTime());
    await untilPaced(p, async () => expect((await p.list()).authorizers[0]!.status).toBe(AuthorizerStatus.AUTHORIZER_STATUS_NEEDS_REAUTHORIZATION));
    // WeChat cut the token with the refresh token: FAILED_PRECONDITION / NEEDS_REAUTHORIZATION, before its expiry.
    expect(p.clock.now()).toBeLessThan(t.expiresAt!.getTime());
    const err = await grpcError(p.h.getToken(AUTH1, 300));
    expect(err.code).toBe(status.FAILED_PRECONDITION);
    expect(reasonOf(err)).toBe("NEEDS_REAUTHORIZATION");
    expect((await p.list()).authorizers[0]!.lastErrorReason).toBe("NEEDS_REAUTHORIZATION");
    // Its health says so too.
    expect(p.h.server.health.get(appHealthName(AUTH1))).toBe("NOT_SERVING");
    // The merchant authorizes again.
    p.fake.clearFaults();
    await p.fake.component.authorize(AUTH1);
    const healed = (await p.h.getToken(AUTH1)).token!;
    expect(p.fake.component.isAuthorizerTokenValid(AUTH1, healed.accessToken)).toBe(true);
    expect((await p.list()).authorizers[0]!.status).toBe(AuthorizerStatus.AUTHORIZER_STATUS_ACTIVE);
  });

  it("a lost re-authorization push: 61023, then the automatic sync takes the new refresh token from the list", async () => {
    const p = await withComponentToken();
    await p.fake.component.authorize(AUTH1);
    // The account re-authorizes while the push cannot reach us: our refresh token is retired.
    p.fake.component.pushUrl = "http://127.0.0.1:9/unreachable";
    await p.fake.component.authorize(AUTH1).catch(() => undefined);
    p.fake.component.pushUrl = p.pushUrl;
    const t = (await p.h.getToken(AUTH1)).token!;
    const lists = p.calls("api_get_authorizer_list");
    await p.clock.advanceTo(t.refreshAt!.getTime());
    await untilPaced(p, async () => {
      const now = (await p.h.getToken(AUTH1)).token!;
      expect(now.version).toBeGreaterThan(t.version);
      expect(p.fake.component.isAuthorizerTokenValid(AUTH1, now.accessToken)).toBe(true);
    });
    expect(p.calls("api_get_authorizer_list")).toBe(lists + 1);
    expect(p.h.logs.text()).toContain("refused the authorizer's refresh token");
    expect((await p.list()).authorizers[0]!.status).toBe(AuthorizerStatus.AUTHORIZER_STATUS_ACTIVE);
  });

  it("starting with no authorizers stored, the list restores every refresh token; SyncAuthorizers does it on demand", async () => {
    const p = await withComponentToken({ authorizers: [AUTH1, AUTH2] });
    expect(p.calls("api_get_authorizer_list")).toBe(1);
    await until(p, async () => expect((await p.list()).authorizers.map((a) => a.appId)).toEqual([AUTH1, AUTH2]));
    for (const appId of [AUTH1, AUTH2]) {
      await until(p, async () => expect(p.fake.component.isAuthorizerTokenValid(appId, (await p.h.getToken(appId, 300)).token!.accessToken)).toBe(true));
    }
    const synced = await p.sync();
    expect(synced).toMatchObject({ restored: 0, updated: 0, unchanged: 2, missing: 0 });
    // WeChat no longer lists AUTH2 (its de-authorization push was lost): marked.
    p.fake.component.pushUrl = "http://127.0.0.1:9/unreachable";
    await p.fake.component.deauthorize(AUTH2).catch(() => undefined);
    const after = await p.sync();
    expect(after).toMatchObject({ unchanged: 1, missing: 1 });
    expect(after.platform!.authorizers.find((a) => a.appId === AUTH2)!.status).toBe(AuthorizerStatus.AUTHORIZER_STATUS_NEEDS_REAUTHORIZATION);
  });

  it("an authorization push the server cannot act on yet (no component token) gets 503, and WeChat's retry works", async () => {
    // No ticket pushed yet: the fake refuses to push one.
    const p = await start({ faults: [{ path: "/cgi-bin/component/api_start_push_ticket", errcode: -1, times: Infinity }] });
    const refused = await p.fake.component.authorize(AUTH1);
    expect(refused.status).toBe(503);
    expect((await p.list()).authorizers).toEqual([]);
    p.fake.clearFaults();
    await p.fake.component.pushTicket();
    await until(p, () => p.h.getToken(COMPONENT, 300).then(() => undefined));
    // WeChat pushes the authorization again (a new code: the fake authorizes anew).
    expect(await p.fake.component.authorize(AUTH1)).toMatchObject({ status: 200, body: "success" });
    expect(p.fake.component.isAuthorizerTokenValid(AUTH1, (await p.h.getToken(AUTH1)).token!.accessToken)).toBe(true);
  });
});

describe("what must not be lost", () => {
  it("restart with the file store: the ticket and refresh tokens survive, stored tokens are served with no fetch", async () => {
    const dir = mkdtempSync(join(tmpdir(), "wxtoken-op-"));
    const storePath = join(dir, "tokens.json");
    const clock = new FakeClock();
    const p1 = await withComponentToken({ clock, storePath });
    await p1.fake.component.authorize(AUTH1);
    await p1.fake.component.authorize(AUTH2);
    const tokens = await Promise.all([COMPONENT, AUTH1, AUTH2].map(async (a) => (await p1.h.getToken(a)).token!));
    const fake = p1.fake;
    // Keep the fake (WeChat) running; stop only the server.
    p1.h.client.close();
    await p1.h.server.shutdown(500);
    running = running.filter((r) => r !== p1);
    const snapshot = readFileSync(storePath, "utf8");
    for (const secret of [COMPONENT_SECRET, MESSAGE_TOKEN, AES_KEY]) expect(snapshot).not.toContain(secret);

    const p2 = await start({ clock, storePath, fake });
    // WeChat pushes nothing to the new process: the stored ticket has to do.
    fake.component.pushUrl = undefined;
    const calls = { component: p2.calls("api_component_token"), authorizer: p2.calls("api_authorizer_token"), list: p2.calls("api_get_authorizer_list") };
    for (const [i, appId] of [COMPONENT, AUTH1, AUTH2].entries()) expect((await p2.h.getToken(appId)).token!.accessToken).toBe(tokens[i]!.accessToken);
    // Past expiry: refreshed with the stored ticket and refresh tokens, no re-authorization.
    await clock.advance(7200_000);
    await until(p2, async () => {
      for (const appId of [AUTH1, AUTH2]) expect(fake.component.isAuthorizerTokenValid(appId, (await p2.h.getToken(appId, 300)).token!.accessToken)).toBe(true);
    });
    expect(p2.calls("api_component_token")).toBeGreaterThan(calls.component);
    expect(p2.calls("api_authorizer_token")).toBeGreaterThan(calls.authorizer);
    // Its refresh tokens were stored: no need to read the list.
    expect(p2.calls("api_get_authorizer_list")).toBe(calls.list);
    await fake.close();
  });

  it("no secret, ticket, code or refresh token in any log line or error", async () => {
    const p = await withComponentToken();
    await p.fake.component.authorize(AUTH1);
    p.fake.inject({ path: "/cgi-bin/component/api_authorizer_token", errcode: 61023, times: 1 });
    const t = (await p.h.getToken(AUTH1)).token!;
    await p.clock.advanceTo(t.refreshAt!.getTime());
    await until(p, () => expect(p.h.logs.text()).toContain("refused the authorizer's refresh token"));
    // A push with a wrong signature, too.
    const bad = await request(`${p.pushUrl}?timestamp=${Math.floor(p.clock.now() / 1000)}&nonce=1&encrypt_type=aes&msg_signature=00`, { method: "POST", body: "<xml><Encrypt><![CDATA[AAAA]]></Encrypt></xml>" });
    expect(bad.statusCode).toBe(403);
    await bad.body.dump();
    const logs = p.h.logs.text();
    const secrets = [COMPONENT_SECRET, MESSAGE_TOKEN, AES_KEY, p.fake.component.currentTicket()!, p.fake.component.refreshTokenOf(AUTH1)!];
    for (const s of secrets) expect(logs).not.toContain(s);
    expect(logs).toContain("authorizer stored");
  });
});

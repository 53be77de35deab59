/**
 * An account that revoked the platform (61023): its token, which WeChat cut
 * with the refresh token, is not served any longer, nor its tickets, nor after
 * a restart, until the account authorizes again (issue 18, item 10); and a
 * 61023 soon after a start has WeChat's authorizer list read within
 * refusedSyncMinIntervalSeconds, once however many accounts answer it, and
 * an account refused again keeps to syncMinIntervalSeconds (item 11).
 */
import { status } from "@grpc/grpc-js";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { FakeClock } from "../../src/clock.js";
import { seededAuthorizerAppId } from "../../src/fake-wechat/component-authorizers.js";
import { statusDetailsOf } from "../../packages/client/src/status-details.js";
import { appHealthName } from "../../src/wxtoken.js";
import { eventually, grpcError, tempDir } from "../support/harness.js";
import { AUTH1, COMPONENT, PlatformHarness } from "../support/platform.js";

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

/** Lets zero-delay timers on the fake clock run until check passes (the clock does not move). */
function until(p: PlatformHarness, check: () => void | Promise<void>): Promise<void> {
  return eventually(async () => {
    await p.clock.advance(0);
    await check();
  });
}

/** Moves the clock a second per try: work in the platform's paced lane takes the next free slot. */
function untilPaced(p: PlatformHarness, check: () => void | Promise<void>): Promise<void> {
  return eventually(async () => {
    await p.clock.advance(1000);
    await check();
  });
}

/** A platform with its component token, after the read of WeChat's list that a start with no authorizer stored makes. */
async function withComponentToken(o: Parameters<typeof start>[0] = {}): Promise<PlatformHarness> {
  const p = await start(o);
  await until(p, async () => {
    await p.h.getToken(COMPONENT, 300);
    expect(p.calls("api_get_authorizer_list")).toBe(1);
  });
  return p;
}

/** The account revokes the platform while the push cannot reach us: WeChat cuts its refresh token and tokens. */
async function revokedUnheard(p: PlatformHarness, appId: string): Promise<void> {
  p.fake.component.pushUrl = "http://127.0.0.1:9/unreachable";
  await p.fake.component.deauthorize(appId).catch(() => undefined);
  p.fake.component.pushUrl = p.pushUrl;
}

async function expectNeedsReauthorization(call: Promise<unknown>): Promise<void> {
  const err = await grpcError(call);
  expect(err.code).toBe(status.FAILED_PRECONDITION);
  expect(statusDetailsOf(err.metadata)?.errorInfo?.reason).toBe("NEEDS_REAUTHORIZATION");
}

const JSAPI = 2;

describe("a revoked account's token is not served", () => {
  it("after 61023 neither the token nor its jsapi ticket is served (60 of 60 reads, ForceRefresh too), health says so; a new authorization brings both back", async () => {
    const p = await withComponentToken({ platform: { authorizerTickets: ["jsapi"] } });
    await p.fake.component.authorize(AUTH1);
    const ticket = (await p.h.get({ appId: AUTH1, kind: JSAPI })).token!;
    await revokedUnheard(p, AUTH1);
    const t = (await p.h.getToken(AUTH1)).token!;
    expect(p.fake.component.isAuthorizerTokenValid(AUTH1, t.accessToken)).toBe(false);
    // Its refresh answers 61023, well before the token's expiry.
    await p.clock.advanceTo(t.refreshAt!.getTime());
    await untilPaced(p, () => expect(p.calls("api_authorizer_token")).toBe(1));
    expect(p.clock.now()).toBeLessThan(Math.min(t.expiresAt!.getTime(), ticket.expiresAt!.getTime()));
    // (Deadlines of 2 s: the answer is immediate, but a loaded machine must not turn a slow call into DEADLINE_EXCEEDED.)
    for (let i = 0; i < 60; i++) {
      await expectNeedsReauthorization(p.h.getToken(AUTH1, 2000));
      await expectNeedsReauthorization(p.h.get({ appId: AUTH1, kind: JSAPI }, 2000));
    }
    await expectNeedsReauthorization(p.h.forceRefresh(AUTH1, t.accessToken, 2000));
    await expectNeedsReauthorization(p.h.refresh({ appId: AUTH1, kind: JSAPI, staleToken: ticket.accessToken }, 2000));
    // Answered from what is known: no upstream call per read.
    expect(p.calls("api_authorizer_token")).toBe(1);
    expect(p.h.server.health.get(appHealthName(AUTH1))).toBe("NOT_SERVING");
    expect(p.h.server.health.get(appHealthName(`${AUTH1}#jsapi_ticket`))).toBe("NOT_SERVING");

    // The account authorizes the platform again: its token at once, its ticket asked for anew. WeChat
    // answers the same ticket (it outlives the token that fetched it), served to its own expiry, no longer.
    expect(await p.fake.component.authorize(AUTH1)).toMatchObject({ status: 200, body: "success" });
    const healed = (await p.h.getToken(AUTH1)).token!;
    expect(p.fake.component.isAuthorizerTokenValid(AUTH1, healed.accessToken)).toBe(true);
    await untilPaced(p, async () => expect((await p.h.get({ appId: AUTH1, kind: JSAPI }, 300)).token!.accessToken).toBe(p.fake.currentTicket(AUTH1, "jsapi")));
    expect((await p.h.get({ appId: AUTH1, kind: JSAPI })).token!).toMatchObject({ accessToken: ticket.accessToken, version: ticket.version, expiresAt: ticket.expiresAt });
    expect(p.h.server.health.get(appHealthName(`${AUTH1}#jsapi_ticket`))).toBe("SERVING");
  });

  it("a restart does not serve it from the store either", async () => {
    const clock = new FakeClock();
    const store = { type: "sqlite" as const, path: join(tempDir(), "wxtoken.db") };
    const p1 = await withComponentToken({ clock, config: { store } });
    await p1.fake.component.authorize(AUTH1);
    await revokedUnheard(p1, AUTH1);
    const t = (await p1.h.getToken(AUTH1)).token!;
    await clock.advanceTo(t.refreshAt!.getTime());
    await untilPaced(p1, () => expectNeedsReauthorization(p1.h.getToken(AUTH1, 300)));
    const fake = p1.fake;
    // Keep WeChat (the fake) running; stop only the server.
    p1.h.client.close();
    await p1.h.server.shutdown(500);
    running = running.filter((r) => r !== p1);

    const p2 = await start({ clock, fake, config: { store } });
    expect(clock.now()).toBeLessThan(t.expiresAt!.getTime());
    await expectNeedsReauthorization(p2.h.getToken(AUTH1, 300));
    await fake.close();
  });
});

describe("a 61023 has WeChat's authorizer list read soon", () => {
  it("right after a start: a re-authorization whose push was lost heals within refusedSyncMinIntervalSeconds, not syncMinIntervalSeconds", async () => {
    const p = await withComponentToken();
    // The read a start with no authorizer stored makes.
    const startedAt = p.clock.now();
    await p.fake.component.authorize(AUTH1);
    // The account authorizes again while the push cannot reach us: our refresh token is retired.
    p.fake.component.pushUrl = "http://127.0.0.1:9/unreachable";
    await p.fake.component.authorize(AUTH1).catch(() => undefined);
    p.fake.component.pushUrl = p.pushUrl;
    const t = (await p.h.getToken(AUTH1)).token!;
    // A caller finds the token refused: the refresh answers 61023.
    await expectNeedsReauthorization(p.h.forceRefresh(AUTH1, t.accessToken));
    await p.clock.advanceTo(startedAt + 60_000 - 1);
    expect(p.calls("api_get_authorizer_list")).toBe(1);
    await p.clock.advanceTo(startedAt + 60_000);
    await until(p, () => expect(p.calls("api_get_authorizer_list")).toBe(2));
    await untilPaced(p, async () => expect(p.fake.component.isAuthorizerTokenValid(AUTH1, (await p.h.getToken(AUTH1, 300)).token!.accessToken)).toBe(true));
    expect(p.clock.now()).toBeLessThan(startedAt + 600_000);
  });

  it("100 accounts answering 61023 after a restore make one read of the list", async () => {
    const N = 100;
    const p = await start({ seedAuthorizers: N, faults: [{ path: "/cgi-bin/component/api_authorizer_token", errcode: 61023, times: Infinity }] });
    await p.fake.component.pushTicket();
    // The restore: WeChat's list read once the component token is there.
    await until(p, () => expect(p.calls("api_get_authorizer_list")).toBe(1));
    const syncedAt = p.clock.now();
    // Every account's first fetch, paced, answers 61023.
    await untilPaced(p, async () => {
      expect(p.calls("api_authorizer_token")).toBe(N);
      expect((await p.list({ statusFilter: 2 })).totalSize).toBe(N);
    });
    await expectNeedsReauthorization(p.h.getToken(seededAuthorizerAppId(7), 300));
    expect(p.calls("api_get_authorizer_list")).toBe(1);
    await p.clock.advanceTo(syncedAt + 60_000 - 1);
    expect(p.calls("api_get_authorizer_list")).toBe(1);
    await p.clock.advanceTo(syncedAt + 60_000);
    await until(p, () => expect(p.calls("api_get_authorizer_list")).toBe(2));
    // WeChat (the fault) lists them with the refresh tokens it refuses: each is tried again at once and refused
    // again. A second refusal of an account keeps to syncMinIntervalSeconds (600 s), or this would read the list every minute.
    await untilPaced(p, () => expect(p.calls("api_authorizer_token")).toBe(2 * N));
    const resyncedAt = syncedAt + 60_000;
    await p.clock.advanceTo(resyncedAt + 600_000 - 1);
    expect(p.calls("api_get_authorizer_list")).toBe(2);
    await p.clock.advance(1);
    await until(p, () => expect(p.calls("api_get_authorizer_list")).toBe(3));
  }, 30_000);
});

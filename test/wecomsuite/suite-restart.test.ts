/**
 * A WeCom suite across a restart of the server (the file store, and the
 * default SQLite store): the same fake WeCom and clock keep running while the
 * process is down. What cannot be had again from WeCom must come back from
 * the store: the suite_ticket while it is valid (no API asks for a push),
 * every corp's permanent code (a lost one means the corp reinstalls), and an
 * authorization code kept but not yet exchanged when the process stopped.
 */
import { status } from "@grpc/grpc-js";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { statusDetailsOf } from "../../packages/client/src/status-details.js";
import { FakeClock } from "../../src/clock.js";
import { FakeWeChat } from "../../src/fake-wechat/index.js";
import type { PlatformStore } from "../../src/platform/store.js";
import { SuitePlatform } from "../../src/wecomsuite/suite.js";
import { eventually, grpcError, tempDir } from "../support/harness.js";
import { CORP1, CORP2, SUITE, suiteFakeOptions, SuiteHarness, type SuiteHarnessOptions } from "../support/suite-platform.js";
import { pushFirstTicket } from "../support/suite-ticket.js";

const PERMANENT_CODE = "/cgi-bin/service/get_permanent_code";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Where the store lives, as the config names it: the file store, or SQLite (the default type). */
const STORES: [string, (dir: string) => Pick<SuiteHarnessOptions, "storePath" | "config">][] = [
  ["the file store", (dir) => ({ storePath: join(dir, "tokens.json") })],
  ["the SQLite store", (dir) => ({ config: { store: { type: "sqlite", path: join(dir, "wxtoken.db") } } })],
];

async function world(): Promise<{ clock: FakeClock; fake: FakeWeChat; dir: string }> {
  const clock = new FakeClock();
  const fake = new FakeWeChat(suiteFakeOptions(clock));
  await fake.start();
  cleanups.push(() => fake.close());
  return { clock, fake, dir: tempDir() };
}

/** A server on the test's fake and clock; stopped after the test unless the test stops it first. */
async function serve(o: SuiteHarnessOptions): Promise<SuiteHarness> {
  const s = await SuiteHarness.start(o);
  let stopped = false;
  const stop = s.stop.bind(s);
  s.stop = async () => {
    if (stopped) return;
    stopped = true;
    await stop();
  };
  cleanups.push(() => s.stop());
  return s;
}

function suiteOf(s: SuiteHarness): SuitePlatform {
  const p = s.h.server.platforms.get(SUITE);
  if (!(p instanceof SuitePlatform)) throw new Error("no suite");
  return p;
}

const store = (s: SuiteHarness) => s.h.server.store as unknown as PlatformStore;

function isCorpToken(s: SuiteHarness, corpId: string, token: string): boolean {
  return s.fake.isWeComTokenValid(corpId, String(s.suite().corp(corpId)!.agentId), token);
}

describe.each(STORES)("a WeCom suite restarted on %s", (_name, storeOf) => {
  it("keeps the suite_ticket, the permanent codes and a code not yet exchanged: no reinstall, no extra suite token", async () => {
    const { clock, fake, dir } = await world();
    const where = storeOf(dir);
    const s1 = await serve({ clock, wechat: fake, ...where });
    await pushFirstTicket(s1);
    const suiteToken = (await s1.h.get({ appId: SUITE })).token!.accessToken;
    await s1.suite().install(CORP1);
    await eventually(() => expect(suiteOf(s1).holds(CORP1)).toBe(true));
    const corpToken = (await s1.h.get({ appId: CORP1, platformId: SUITE })).token!.accessToken;

    // CORP2 installs while WeCom is busy: its code is kept (answered success), the exchange fails once and waits to retry.
    s1.suite().failNext(-1, { path: PERMANENT_CODE });
    const exchanges = fake.calls(PERMANENT_CODE);
    const pushed = await s1.suite().install(CORP2);
    expect(pushed.body).toBe("success");
    await eventually(() => expect(s1.h.logs.text()).toContain("could not exchange the authorization code yet"));
    expect(fake.calls(PERMANENT_CODE)).toBe(exchanges + 1);
    expect((await store(s1).pendingCodes(SUITE)).map((p) => p.code)).toEqual([pushed.authCode]);
    expect(suiteOf(s1).holds(CORP2)).toBe(false);

    await s1.stop();
    const before = { suite: s1.calls("get_suite_token", SUITE), corp: s1.calls("get_corp_token") };
    // Five minutes later; WeCom's pushes do not reach the stopped process, and none comes after the restart.
    await clock.advance(5 * 60_000);
    const s2 = await serve({ clock, wechat: fake, ...where });
    fake.suite(SUITE).pushUrl = undefined;

    // The ticket is held: the suite token is served (the stored one, still valid: no fetch).
    const held = suiteOf(s2).heldTicket();
    expect(held?.value).toBe(fake.suite(SUITE).currentTicket());
    expect((await s2.h.get({ appId: SUITE })).token!.accessToken).toBe(suiteToken);
    // The kept code is exchanged after the restart, once, and dropped.
    await eventually(() => expect(suiteOf(s2).holds(CORP2)).toBe(true));
    await eventually(async () => expect(await store(s2).pendingCodes(SUITE)).toEqual([]));
    expect(fake.calls(PERMANENT_CODE)).toBe(exchanges + 2);
    expect((await store(s2).authorizer(SUITE, CORP2))?.refreshToken).toBe(fake.suite(SUITE).permanentCodeOf(CORP2));
    // CORP1 is served from its stored token, with no reinstall.
    expect((await s2.h.get({ appId: CORP1, platformId: SUITE })).token!.accessToken).toBe(corpToken);
    expect(isCorpToken(s2, CORP2, (await s2.h.get({ appId: CORP2, platformId: SUITE })).token!.accessToken)).toBe(true);
    expect(s2.calls("get_suite_token", SUITE)).toBe(before.suite);

    // Past the tokens' expiry, with WeCom pushing a ticket every 10 minutes: refreshed with the stored permanent codes.
    fake.suite(SUITE).pushUrl = s2.pushUrl(SUITE);
    const expiresAt = (await s2.h.get({ appId: CORP1, platformId: SUITE })).token!.expiresAt!.getTime();
    while (clock.now() <= expiresAt) {
      expect((await s2.suite().pushTicket()).body).toBe("success");
      await clock.advance(Math.min(10 * 60_000, expiresAt + 1 - clock.now()));
    }
    await eventually(async () => {
      await clock.advance(0);
      for (const corp of [CORP1, CORP2]) {
        const t = (await s2.h.get({ appId: corp, platformId: SUITE }, 300)).token!;
        expect(t.expiresAt!.getTime()).toBeGreaterThan(clock.now());
        expect(isCorpToken(s2, corp, t.accessToken)).toBe(true);
      }
    });
    expect(s2.calls("get_corp_token", `${SUITE}/${CORP1}`)).toBeGreaterThan(0);
    expect(s2.calls("get_corp_token")).toBeGreaterThan(before.corp);
    // No install happened again: no exchange since CORP2's.
    expect(fake.calls(PERMANENT_CODE)).toBe(exchanges + 2);
    // The stored suite token's life, as one process lives it: asked once early (WeCom answers the same token while it is valid), once at its expiry.
    expect(s2.calls("get_suite_token", SUITE)).toBe(before.suite + 2);
  });

  it("a suite_ticket expired while the server was down: NO_SUITE_TICKET (no call to WeCom) until the next push", async () => {
    const { clock, fake, dir } = await world();
    const where = storeOf(dir);
    const s1 = await serve({ clock, wechat: fake, ...where });
    await pushFirstTicket(s1);
    const expiresAt = (await s1.h.get({ appId: SUITE })).token!.expiresAt!.getTime();
    await s1.stop();
    // WeCom's pushes do not arrive while it is down, past the ticket's 30 minutes and the suite token's life.
    fake.suite(SUITE).pushUrl = undefined;
    await clock.advanceTo(expiresAt + 1000);

    const s2 = await serve({ clock, wechat: fake, ...where });
    fake.suite(SUITE).pushUrl = undefined;
    const calls = s2.calls("get_suite_token", SUITE);
    const held = suiteOf(s2).heldTicket()!;
    expect(held.expiresAt).toBeLessThan(clock.now());
    const err = await grpcError(s2.h.get({ appId: SUITE }, 300));
    expect(err.code).toBe(status.UNAVAILABLE);
    expect(statusDetailsOf(err.metadata)?.errorInfo?.reason).toBe("NO_SUITE_TICKET");
    expect(err.details).toMatch(/the suite_ticket held expired .*every 10 minutes.*刷新ticket/);
    // Ten minutes on, still no push: still the same answer, and WeCom was never asked with the dead ticket.
    await clock.advance(10 * 60_000);
    expect(statusDetailsOf((await grpcError(s2.h.get({ appId: SUITE }, 300))).metadata)?.errorInfo?.reason).toBe("NO_SUITE_TICKET");
    expect(s2.calls("get_suite_token", SUITE)).toBe(calls);

    // The next push (pushFirstTicket points WeCom at s2 again).
    await pushFirstTicket(s2);
    expect(s2.calls("get_suite_token", SUITE)).toBe(calls + 1);
  });
});

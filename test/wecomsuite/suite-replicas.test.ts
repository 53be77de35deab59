/**
 * A WeCom suite served by replicas sharing Redis, as behind a load balancer:
 * WeCom's pushes reach one replica, every replica serves the suite token and
 * the installed corps' tokens, an authorization code is exchanged once for
 * the cluster, the suite token is fetched as often for the cluster as for
 * one process, and every token a client is handed works. Redis restarting
 * (a redis-server of the test's own, killed with SIGKILL) loses nothing with
 * persistence on; without it, the permanent codes held in memory are
 * written back.
 */
import { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { FakeClock } from "../../src/clock.js";
import { FakeWeChat } from "../../src/fake-wechat/index.js";
import { silentLogger } from "../../src/log.js";
import type { PlatformStore } from "../../src/platform/store.js";
import { RedisStore } from "../../src/store/redis-store.js";
import { SuitePlatform } from "../../src/wecomsuite/suite.js";
import { eventually, tempDir } from "../support/harness.js";
import { dropPrefix, OwnRedis, SHARED_REDIS_URL, uniquePrefix } from "../support/redis.js";
import { CORP1, CORP2, SUITE, suiteFakeOptions, SuiteHarness } from "../support/suite-platform.js";
import { pushFirstTicket } from "../support/suite-ticket.js";
import { whileTicking } from "../support/ticking.js";

const PERMANENT_CODE = "/cgi-bin/service/get_permanent_code";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Cluster {
  clock: FakeClock;
  fake: FakeWeChat;
  replicas: SuiteHarness[];
  /** One more replica on the same Redis. */
  add(): Promise<SuiteHarness>;
  /** A store of the test's own on the same Redis and prefix, to read what the cluster keeps. */
  reader: PlatformStore;
  prefix: string;
}

async function cluster(n: number, url = SHARED_REDIS_URL): Promise<Cluster> {
  const clock = new FakeClock();
  const fake = new FakeWeChat(suiteFakeOptions(clock));
  await fake.start();
  cleanups.push(() => fake.close());
  const prefix = uniquePrefix();
  if (url === SHARED_REDIS_URL) cleanups.push(() => dropPrefix(url, prefix));
  const redis = () => new RedisStore({ url, keyPrefix: prefix, lockLeaseMs: 5000, log: silentLogger });
  const add = async () => {
    const s = await SuiteHarness.start({ clock, wechat: fake, store: redis() });
    cleanups.push(() => s.stop());
    return s;
  };
  const replicas: SuiteHarness[] = [];
  for (let i = 0; i < n; i++) replicas.push(await add());
  const reader = redis();
  cleanups.push(() => reader.close());
  return { clock, fake, replicas, add, reader: reader as unknown as PlatformStore, prefix };
}

function suiteOf(s: SuiteHarness): SuitePlatform {
  const p = s.h.server.platforms.get(SUITE);
  if (!(p instanceof SuitePlatform)) throw new Error("no suite");
  return p;
}

function isCorpToken(s: SuiteHarness, corpId: string, token: string): boolean {
  return s.fake.isWeComTokenValid(corpId, String(s.suite().corp(corpId)!.agentId), token);
}

/** Lets zero-delay timers run until check passes (the fake clock stands still while upstream calls are in flight). */
function until(clock: FakeClock, check: () => void | Promise<void>, timeoutMs?: number): Promise<void> {
  return eventually(async () => {
    await clock.advance(0);
    await check();
  }, timeoutMs);
}

/** Moves the clock a second at a time until check passes: retries due soon run (calls that failed while Redis was down). */
function settled(clock: FakeClock, check: () => void | Promise<void>, timeoutMs?: number): Promise<void> {
  return eventually(async () => {
    await clock.advance(1000);
    await check();
  }, timeoutMs);
}

/** WeCom pushes the first suite_ticket to `to`; every replica then serves the suite token. */
function firstTicket(c: Cluster, to: SuiteHarness): Promise<void> {
  return pushFirstTicket(to, c.replicas);
}

/** Every replica serves the suite token and each corp's token, all of which WeCom takes. */
async function allServe(c: Cluster, corps: string[]): Promise<void> {
  for (const r of c.replicas) {
    expect(r.suite().isSuiteTokenValid((await r.h.get({ appId: SUITE }, 300)).token!.accessToken)).toBe(true);
    for (const corp of corps) expect(isCorpToken(r, corp, (await r.h.get({ appId: corp, platformId: SUITE }, 300)).token!.accessToken)).toBe(true);
  }
}

describe("a WeCom suite on replicas sharing Redis", () => {
  it("pushes reach replica A only; B serves the suite token and the corps'; a create_auth pushed to both is exchanged once", async () => {
    const c = await cluster(2);
    const [a, b] = c.replicas as [SuiteHarness, SuiteHarness];
    const suite = c.fake.suite(SUITE);
    await firstTicket(c, a);
    expect(suiteOf(b).heldTicket()?.value).toBe(suite.currentTicket());
    // One suite token for the cluster.
    expect(a.calls("get_suite_token", SUITE)).toBe(1);

    // WeCom sends CORP1's create_auth to A and, its answer lost, the same message to B while A's exchange is under way.
    const exchanges = c.fake.calls(PERMANENT_CODE);
    c.fake.inject({ path: PERMANENT_CODE, delayMs: 300 });
    const viaA = await suite.install(CORP1);
    suite.pushUrl = b.pushUrl(SUITE);
    const viaB = await suite.send(viaA.fields);
    expect([viaA.body, viaB.body]).toEqual(["success", "success"]);
    expect(suiteOf(a).holds(CORP1)).toBe(false);
    // And CORP2's create_auth to both at once (send() takes the pushUrl as it is called).
    const { authCode } = suite.installByRedirect(CORP2);
    const fields = { SuiteId: SUITE, AuthCode: authCode, InfoType: "create_auth", TimeStamp: Math.floor(c.clock.now() / 1000) };
    suite.pushUrl = a.pushUrl(SUITE);
    const toA = suite.send(fields);
    suite.pushUrl = b.pushUrl(SUITE);
    const toB = suite.send(fields);
    expect((await Promise.all([toA, toB])).map((r) => [r.body, r.late])).toEqual([
      ["success", false],
      ["success", false],
    ]);

    await until(c.clock, async () => {
      for (const r of c.replicas) expect([suiteOf(r).holds(CORP1), suiteOf(r).holds(CORP2)]).toEqual([true, true]);
      await allServe(c, [CORP1, CORP2]);
    });
    // A sweep of kept codes on either replica (every minute) does not exchange them again.
    await c.clock.advance(3 * 60_000);
    await until(c.clock, async () => expect(await c.reader.pendingCodes(SUITE)).toEqual([]));
    expect(c.fake.calls(PERMANENT_CODE)).toBe(exchanges + 2);
    for (const corp of [CORP1, CORP2]) expect((await c.reader.authorizer(SUITE, corp))?.refreshToken).toBe(suite.permanentCodeOf(corp));
    expect(a.suite().lateAnswers).toBe(0);
  });

  it("one get_suite_token per cycle for the cluster, through two refresh cycles; every token a client gets works", async () => {
    const c = await cluster(2);
    const [a, b] = c.replicas as [SuiteHarness, SuiteHarness];
    const suite = c.fake.suite(SUITE);
    await firstTicket(c, a);
    await suite.install(CORP1);
    await until(c.clock, () => allServe(c, [CORP1]));
    const first = (await b.h.get({ appId: SUITE })).token!;
    expect(a.calls("get_suite_token", SUITE)).toBe(1);

    const failed: string[] = [];
    const invalid: string[] = [];
    const perCycle: number[] = [];
    let expiresAt = first.expiresAt!.getTime();
    for (let cycle = 0; cycle < 2; cycle++) {
      const before = a.calls("get_suite_token", SUITE);
      // WeCom pushes a ticket every 10 minutes, to A and B in turn; clients ask both all the while.
      for (let step = 0; c.clock.now() <= expiresAt; step++) {
        suite.pushUrl = c.replicas[step % 2]!.pushUrl(SUITE);
        await suite.pushTicket();
        await c.clock.advance(Math.min(10 * 60_000, expiresAt + 1 - c.clock.now()));
        for (const r of c.replicas) {
          for (const [appId, platformId] of [[SUITE, ""], [CORP1, SUITE]] as const) {
            // Time passes while a caller waits: at expiry WeCom may answer the old token once more, and the refresh then waits for its successor.
            const got = await whileTicking(c.clock, r.h.get({ appId, platformId })).then(
              (res) => res.token!.accessToken,
              (err: Error) => void failed.push(`${appId} at ${c.clock.now()}: ${err.message}`),
            );
            if (got === undefined) continue;
            const ok = appId === SUITE ? r.suite().isSuiteTokenValid(got) : isCorpToken(r, CORP1, got);
            if (!ok) invalid.push(`${appId} at ${c.clock.now()}`);
          }
        }
      }
      // The new suite token, on both replicas.
      await until(c.clock, async () => {
        const tokens = await Promise.all(c.replicas.map(async (r) => (await r.h.get({ appId: SUITE }, 300)).token!));
        expect(new Set(tokens.map((t) => t.accessToken)).size).toBe(1);
        expect(tokens[0]!.expiresAt!.getTime()).toBeGreaterThan(c.clock.now());
      });
      perCycle.push(a.calls("get_suite_token", SUITE) - before);
      expiresAt = (await a.h.get({ appId: SUITE })).token!.expiresAt!.getTime();
    }
    expect(failed).toEqual([]);
    expect(invalid).toEqual([]);
    // One new suite token per cycle, fetched by one replica for both. As one process does, the engine may also ask once early
    // (WeCom hands back the token while it is valid) and, at expiry, once more a moment later (WeCom counts the token's life
    // from its own answer, just after our request); a fetch per replica would be 2 or more at each of those points.
    expect((await b.h.get({ appId: SUITE })).token!.version).toBe(first.version + 2);
    for (const n of perCycle) {
      expect(n).toBeGreaterThanOrEqual(1);
      expect(n).toBeLessThanOrEqual(3);
    }
  });

  it("a change note read after the store lost a corp does not drop its permanent code; a cancel_auth on another replica still does", async () => {
    const c = await cluster(2);
    const [a, b] = c.replicas as [SuiteHarness, SuiteHarness];
    const suite = c.fake.suite(SUITE);
    await firstTicket(c, a);
    await suite.install(CORP1);
    await suite.install(CORP2);
    await until(c.clock, () => allServe(c, [CORP1, CORP2]));
    const exchanges = c.fake.calls(PERMANENT_CODE);

    // The store loses the corps (a Redis that came back empty), and a note about CORP2 published before is read only now.
    const redis = new Redis(SHARED_REDIS_URL);
    cleanups.push(() => redis.quit());
    await redis.del(`${c.prefix}platform:${SUITE}:authorizers`);
    await redis.publish(`${c.prefix}platform`, JSON.stringify({ component: SUITE, what: "authorizer", appId: CORP2 }));
    await until(c.clock, async () => {
      expect((await c.reader.authorizer(SUITE, CORP2))?.refreshToken).toBe(suite.permanentCodeOf(CORP2));
      for (const r of c.replicas) expect(suiteOf(r).holds(CORP2)).toBe(true);
      await allServe(c, [CORP2]);
    });
    expect(a.h.logs.text() + b.h.logs.text()).toContain("the store had lost these corps' permanent codes: written back from memory");
    expect(c.fake.calls(PERMANENT_CODE)).toBe(exchanges);

    // CORP2 uninstalls; WeCom tells B. Neither replica writes it back.
    suite.pushUrl = b.pushUrl(SUITE);
    expect((await suite.cancel(CORP2)).body).toBe("success");
    await until(c.clock, async () => {
      for (const r of c.replicas) expect(suiteOf(r).holds(CORP2)).toBe(false);
    });
    await c.clock.advance(5 * 60_000);
    await new Promise((r) => setTimeout(r, 100));
    expect(await c.reader.authorizer(SUITE, CORP2)).toBeUndefined();
    for (const r of c.replicas) expect(suiteOf(r).holds(CORP2)).toBe(false);
  });

  it("Redis restarted with persistence (AOF): the ticket and the permanent codes are still there; a new replica serves the corps", async () => {
    const redis = await OwnRedis.start(["--appendonly", "yes", "--appendfsync", "always", "--dir", tempDir()]);
    cleanups.push(() => redis.kill());
    const c = await cluster(1, redis.url);
    const [a] = c.replicas as [SuiteHarness];
    const suite = c.fake.suite(SUITE);
    await firstTicket(c, a);
    await suite.install(CORP1);
    await until(c.clock, () => expect(suiteOf(a).holds(CORP1)).toBe(true));
    const { authCode } = suite.installByRedirect(CORP2);
    await suiteOf(a).authorizeByCode(authCode);
    const ticket = suite.currentTicket();

    await redis.kill();
    await redis.start();
    await until(c.clock, async () => {
      expect((await c.reader.ticket(SUITE))?.value).toBe(ticket);
      const held = await c.reader.authorizers(SUITE);
      expect([...held.keys()].sort()).toEqual([CORP1, CORP2]);
      for (const corp of [CORP1, CORP2]) expect(held.get(corp)?.refreshToken).toBe(suite.permanentCodeOf(corp));
    }, 10_000);

    // A replica started now loads them from Redis and refreshes the corps' tokens with them: no reinstall.
    const exchanges = c.fake.calls(PERMANENT_CODE);
    const b = await c.add();
    suite.pushUrl = b.pushUrl(SUITE);
    expect(suiteOf(b).heldTicket()?.value).toBe(ticket);
    expect([suiteOf(b).holds(CORP1), suiteOf(b).holds(CORP2)]).toEqual([true, true]);
    await a.stop();
    c.replicas.splice(0, 1, b);
    const expiresAt = (await b.h.get({ appId: CORP1, platformId: SUITE })).token!.expiresAt!.getTime();
    while (c.clock.now() <= expiresAt) {
      await suite.pushTicket();
      await c.clock.advance(Math.min(10 * 60_000, expiresAt + 1 - c.clock.now()));
    }
    await settled(c.clock, async () => {
      await allServe(c, [CORP1, CORP2]);
      expect((await b.h.get({ appId: CORP1, platformId: SUITE })).token!.expiresAt!.getTime()).toBeGreaterThan(c.clock.now());
    }, 10_000);
    expect(b.calls("get_corp_token", `${SUITE}/${CORP1}`)).toBeGreaterThan(0);
    expect(c.fake.calls(PERMANENT_CODE)).toBe(exchanges);
  });

  it("Redis restarted empty (no persistence): the permanent codes held in memory are written back", async () => {
    const redis = await OwnRedis.start();
    cleanups.push(() => redis.kill());
    const c = await cluster(1, redis.url);
    const [a] = c.replicas as [SuiteHarness];
    const suite = c.fake.suite(SUITE);
    await firstTicket(c, a);
    await suite.install(CORP1);
    await suite.install(CORP2);
    // Held, and stored (the store's note read too): the loss comes after.
    await until(c.clock, async () => expect([...(await c.reader.authorizers(SUITE)).keys()].sort()).toEqual([CORP1, CORP2]));
    await until(c.clock, () => allServe(c, [CORP1, CORP2]));

    await redis.kill();
    await redis.start();
    await settled(
      c.clock,
      async () => {
        const held = await c.reader.authorizers(SUITE);
        expect([...held.keys()].sort()).toEqual([CORP1, CORP2]);
        for (const corp of [CORP1, CORP2]) expect(held.get(corp)?.refreshToken).toBe(suite.permanentCodeOf(corp));
        expect(held.get(CORP1)?.agents).toEqual([String(suite.corp(CORP1)!.agentId)]);
      },
      10_000,
    );
    await eventually(() => expect(a.h.logs.text()).toContain("written back from memory"));
    // The suite_ticket too: no API asks WeCom for another, and the next push may be 10 minutes away.
    await settled(c.clock, async () => expect((await c.reader.ticket(SUITE))?.value).toBe(suite.currentTicket()));
    expect(a.h.logs.text()).toContain("the store had lost the suite_ticket: written back from memory");
    // A replica started now, with no push of its own, serves the suite and both corps from what was written back.
    c.replicas.push(await c.add());
    suite.pushUrl = undefined;
    await settled(c.clock, () => allServe(c, [CORP1, CORP2]), 10_000);
  });
});

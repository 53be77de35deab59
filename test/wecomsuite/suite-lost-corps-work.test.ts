/**
 * Redis loses a suite's corps silently (evicted, or flushed) while a replica
 * holds them in memory: each corp's next refresh notices its record is gone,
 * and the permanent codes are written back from memory. That is one read of
 * the suite's corps (and one write of the missing ones) for the loss, not
 * one per corp that notices it: with N corps refreshing together, a read of
 * all N per corp is O(N²) work on a Redis that just lost its data.
 */
import { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { FakeClock } from "../../src/clock.js";
import { FakeWeChat } from "../../src/fake-wechat/index.js";
import { silentLogger } from "../../src/log.js";
import type { StoredAuthorizer } from "../../src/platform/store.js";
import { RedisStore } from "../../src/store/redis-store.js";
import { SuitePlatform } from "../../src/wecomsuite/suite.js";
import { eventually } from "../support/harness.js";
import { dropPrefix, SHARED_REDIS_URL, uniquePrefix } from "../support/redis.js";
import { AES_KEY, CALLBACK_TOKEN, DK, SUITE, SUITE_SECRET, suiteFakeOptions, SuiteHarness } from "../support/suite-platform.js";

const N = 200;
const DAY = 86_400_000;
const corpOf = (i: number) => `wwlost${String(i).padStart(12, "0")}`;
const CORPS = Array.from({ length: N }, (_, i) => corpOf(i));
const KEYS = { secret: SUITE_SECRET, token: CALLBACK_TOKEN, encodingAesKey: AES_KEY };

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A Redis store counting whole reads of a platform's authorizers and the records written back in batches. */
class CountingRedis extends RedisStore {
  wholeReads = 0;
  batchRecords = 0;
  override authorizers(component: string): Promise<Map<string, StoredAuthorizer>> {
    this.wholeReads++;
    return super.authorizers(component);
  }
  override saveAuthorizers(component: string, records: readonly StoredAuthorizer[]): Promise<boolean[]> {
    this.batchRecords += records.length;
    return super.saveAuthorizers(component, records);
  }
}

describe("a WeCom suite whose corps Redis lost silently", () => {
  it("writes them back with one read of the suite's corps, not one per corp that notices", async () => {
    const clock = new FakeClock();
    const fake = new FakeWeChat(suiteFakeOptions(clock, { suites: [{ suiteId: SUITE, ...KEYS, corps: Object.fromEntries(CORPS.map((c) => [c, {}])) }, { suiteId: DK, ...KEYS }] }));
    await fake.start();
    cleanups.push(() => fake.close());
    const prefix = uniquePrefix();
    cleanups.push(() => dropPrefix(SHARED_REDIS_URL, prefix));
    const options = { url: SHARED_REDIS_URL, keyPrefix: prefix, lockLeaseMs: 5000, log: silentLogger };

    // The corps as a previous run stored them, and a valid suite_ticket.
    const seed = new RedisStore(options);
    await seed.load();
    const now = clock.now();
    await seed.saveTicket(SUITE, { value: fake.suite(SUITE).state.newTicket(), createdAt: now - 60_000, receivedAt: now - 60_000, expiresAt: now + 25 * 60_000 });
    const records: StoredAuthorizer[] = CORPS.map((corpId) => ({
      appId: corpId,
      refreshToken: fake.suite(SUITE).permanentCodeOf(corpId)!,
      status: "active",
      authorizedAt: now - DAY,
      updatedAt: now - DAY,
      agents: [String(fake.suite(SUITE).corp(corpId)!.agentId)],
    }));
    await seed.saveAuthorizers(SUITE, records);
    await seed.close();

    const store = new CountingRedis(options);
    const s = await SuiteHarness.start({ clock, wechat: fake, store, suite: { corpTickets: [], maxCallsPerSecond: 1000, maxConcurrentCalls: 64 } });
    cleanups.push(() => s.stop());
    const suite = s.h.server.platforms.get(SUITE) as SuitePlatform;
    expect(suite.authorizerCount()).toBe(N);
    const served = () => CORPS.filter((c) => s.h.server.engine.byKey(suite.tenantKey(c))?.current()).length;
    await eventually(async () => {
      await clock.advance(1000);
      expect(served()).toBe(N);
    }, 15_000);

    // Redis loses the corps: no note, no reconnect.
    const redis = new Redis(SHARED_REDIS_URL);
    cleanups.push(() => redis.quit());
    expect(await redis.del(`${prefix}platform:${SUITE}:authorizers`)).toBe(1);
    const before = { reads: store.wholeReads, written: store.batchRecords };

    // Clients find every corp's token refused and ask for new ones at once: each refresh notices its record is gone.
    const stale = await Promise.all(CORPS.map(async (c) => (await s.h.get({ appId: c, platformId: SUITE })).token!.accessToken));
    for (const c of CORPS) fake.invalidateWeComToken(c, String(fake.suite(SUITE).corp(c)!.agentId));
    await Promise.all(CORPS.map((c, i) => s.h.refresh({ appId: c, platformId: SUITE, staleToken: stale[i]! })));
    const reader = new RedisStore(options);
    cleanups.push(() => reader.close());
    await reader.load();
    await eventually(async () => {
      await clock.advance(1000);
      expect((await reader.authorizers(SUITE)).size).toBe(N);
      expect(served()).toBe(N);
    }, 15_000);
    const held = await reader.authorizers(SUITE);
    for (const corpId of CORPS) expect(held.get(corpId)?.refreshToken).toBe(fake.suite(SUITE).permanentCodeOf(corpId));
    // One read for the loss (one more may follow it, for corps that noticed while it ran), and each record written back about once.
    expect(store.wholeReads - before.reads).toBeLessThanOrEqual(2);
    expect(store.batchRecords - before.written).toBeLessThanOrEqual(2 * N);
  });
});

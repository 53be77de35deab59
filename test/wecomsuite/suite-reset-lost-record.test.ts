/**
 * A 代开发 corp's permanent code reset while Redis no longer holds the
 * corp's record (evicted, or lost by a Redis that came back empty, before
 * any replica noticed): the reset retires the old code at its exchange, so
 * the new one is the corp's only working code. It must reach the store, not
 * be dropped because the compare-and-set on the old code found no record
 * (and the old, dead code be written back from memory later).
 */
import { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { FakeClock } from "../../src/clock.js";
import { FakeWeChat } from "../../src/fake-wechat/index.js";
import { silentLogger } from "../../src/log.js";
import type { PlatformStore } from "../../src/platform/store.js";
import { RedisStore } from "../../src/store/redis-store.js";
import { SuitePlatform } from "../../src/wecomsuite/suite.js";
import { eventually } from "../support/harness.js";
import { dropPrefix, SHARED_REDIS_URL, uniquePrefix } from "../support/redis.js";
import { CORP1, DK, suiteFakeOptions, SuiteHarness } from "../support/suite-platform.js";
import { pushFirstTicket } from "../support/suite-ticket.js";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe("a 代开发 corp's permanent code reset after Redis lost the corp's record", () => {
  it("stores the new code (not the retired one) and serves the corp's token with it", async () => {
    const clock = new FakeClock();
    const fake = new FakeWeChat(suiteFakeOptions(clock));
    await fake.start();
    cleanups.push(() => fake.close());
    const prefix = uniquePrefix();
    cleanups.push(() => dropPrefix(SHARED_REDIS_URL, prefix));
    const s = await SuiteHarness.start({ clock, wechat: fake, store: new RedisStore({ url: SHARED_REDIS_URL, keyPrefix: prefix, lockLeaseMs: 5000, log: silentLogger }) });
    cleanups.push(() => s.stop());
    const reader = new RedisStore({ url: SHARED_REDIS_URL, keyPrefix: prefix, lockLeaseMs: 5000, log: silentLogger });
    cleanups.push(() => reader.close());
    const stored = reader as unknown as PlatformStore;
    const suite = s.h.server.platforms.get(DK) as SuitePlatform;

    await pushFirstTicket(s, [s], DK);
    await fake.suite(DK).install(CORP1);
    await eventually(async () => expect((await stored.authorizer(DK, CORP1))?.refreshToken).toBe(fake.suite(DK).permanentCodeOf(CORP1)));
    expect(suite.holds(CORP1)).toBe(true);
    const old = fake.suite(DK).permanentCodeOf(CORP1)!;

    // Redis loses the corp's record, silently (no change note, no reconnect).
    const redis = new Redis(SHARED_REDIS_URL);
    cleanups.push(() => redis.quit());
    expect(await redis.hdel(`${prefix}platform:${DK}:authorizers`, CORP1)).toBe(1);

    // The provider resets the corp's permanent code: the old one stops working at the exchange.
    expect((await fake.suite(DK).resetPermanentCode(CORP1)).body).toBe("success");
    await eventually(() => expect(fake.suite(DK).permanentCodeOf(CORP1)).not.toBe(old));
    const next = fake.suite(DK).permanentCodeOf(CORP1)!;
    await eventually(async () => expect((await stored.authorizer(DK, CORP1))?.refreshToken).toBe(next));

    // WeCom cuts the corp's token: the refresh uses the new code (stored), and nothing writes the retired one back.
    const agent = String(fake.suite(DK).corp(CORP1)!.agentId);
    const held = (await s.h.get({ appId: CORP1, platformId: DK })).token!.accessToken;
    fake.invalidateWeComToken(CORP1, agent);
    const refreshed = await s.h.refresh({ appId: CORP1, platformId: DK, staleToken: held });
    expect(fake.isWeComTokenValid(CORP1, agent, refreshed.token!.accessToken)).toBe(true);
    await new Promise((r) => setTimeout(r, 100));
    expect((await stored.authorizer(DK, CORP1))?.refreshToken).toBe(next);
    expect(s.h.logs.text()).not.toContain("must install the app again");
  });
});

/**
 * Redis loses a suite's suite_ticket silently (the ticket key is the one key
 * with a TTL, so the first a volatile eviction policy takes; or a flush)
 * while a replica holds it in memory, still valid. No API asks WeCom for
 * another and the next push may be 10 minutes away: the suite token is
 * bought with the ticket held, which goes back to the store, rather than
 * failing NO_SUITE_TICKET in the meantime.
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
import { CORP1, SUITE, suiteFakeOptions, SuiteHarness } from "../support/suite-platform.js";
import { pushFirstTicket } from "../support/suite-ticket.js";

const CORP_TOKEN = "/cgi-bin/service/get_corp_token";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe("a WeCom suite whose suite_ticket Redis lost silently", () => {
  it("buys the suite token with the valid ticket it holds and writes it back", async () => {
    const clock = new FakeClock();
    const fake = new FakeWeChat(suiteFakeOptions(clock));
    await fake.start();
    cleanups.push(() => fake.close());
    const prefix = uniquePrefix();
    cleanups.push(() => dropPrefix(SHARED_REDIS_URL, prefix));
    const options = { url: SHARED_REDIS_URL, keyPrefix: prefix, lockLeaseMs: 5000, log: silentLogger };
    const s = await SuiteHarness.start({ clock, wechat: fake, store: new RedisStore(options) });
    cleanups.push(() => s.stop());
    const reader = new RedisStore(options);
    cleanups.push(() => reader.close());
    await reader.load();
    const stored = reader as unknown as PlatformStore;
    const suite = s.h.server.platforms.get(SUITE) as SuitePlatform;

    await pushFirstTicket(s);
    await fake.suite(SUITE).install(CORP1);
    await eventually(() => expect(suite.holds(CORP1)).toBe(true));
    const ticket = fake.suite(SUITE).currentTicket();
    fake.suite(SUITE).pushUrl = undefined;
    const held = (await s.h.get({ appId: CORP1, platformId: SUITE })).token!.accessToken;

    // Redis loses the ticket: no note, no reconnect.
    const redis = new Redis(SHARED_REDIS_URL);
    cleanups.push(() => redis.quit());
    expect(await redis.del(`${prefix}platform:${SUITE}:ticket`)).toBe(1);

    // WeCom cuts the corp's token and calls the suite token invalid: the suite token is bought again, with the ticket held.
    fake.invalidateWeComToken(CORP1, String(fake.suite(SUITE).corp(CORP1)!.agentId));
    fake.suite(SUITE).failNext(40082, { path: CORP_TOKEN });
    const refreshed = await s.h.refresh({ appId: CORP1, platformId: SUITE, staleToken: held });
    expect(fake.isWeComTokenValid(CORP1, String(fake.suite(SUITE).corp(CORP1)!.agentId), refreshed.token!.accessToken)).toBe(true);
    await eventually(async () => expect((await stored.ticket(SUITE))?.value).toBe(ticket));
    expect(s.h.logs.text()).toContain("the store had lost the suite_ticket: written back from memory");
  });
});

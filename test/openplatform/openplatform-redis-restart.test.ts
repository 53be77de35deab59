/**
 * Redis restarts under an Open Platform (a redis-server of the test's own,
 * killed with SIGKILL): with persistence (the operator's job) nothing is
 * lost; without it (Redis came back empty) the server keeps serving from
 * memory, restores every refresh token from WeChat's authorizer list, and the
 * next verify ticket push is stored again.
 */
import { afterEach, describe, expect, it } from "vitest";
import { FakeClock } from "../../src/clock.js";
import { FakeWeChat } from "../../src/fake-wechat/index.js";
import { silentLogger } from "../../src/log.js";
import { RedisStore } from "../../src/store/redis-store.js";
import { eventually, tempDir } from "../support/harness.js";
import { AUTH1, AUTH2, COMPONENT, componentOptions, PlatformHarness } from "../support/platform.js";
import { OwnRedis } from "../support/redis.js";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(redisArgs: string[]) {
  const redis = await OwnRedis.start(redisArgs);
  cleanups.push(() => redis.kill());
  const clock = new FakeClock();
  const fake = new FakeWeChat({ apps: {}, clock, overlapMs: 300_000, component: componentOptions() });
  await fake.start();
  cleanups.push(() => fake.close());
  const store = new RedisStore({ url: redis.url, keyPrefix: "wxtoken:", lockLeaseMs: 5000, log: silentLogger });
  const p = await PlatformHarness.start({ clock, fake, store });
  cleanups.push(() => p.stop());
  await fake.component.pushTicket();
  await eventually(async () => {
    await clock.advance(0);
    await p.h.getToken(COMPONENT, 300);
    expect(p.calls("api_get_authorizer_list")).toBe(1);
  });
  for (const a of [AUTH1, AUTH2]) expect(await fake.component.authorize(a)).toMatchObject({ status: 200, body: "success" });
  return { redis, clock, fake, p };
}

/** Until both authorizers are served a token WeChat accepts, over a refresh after `at`. */
async function refreshedAndValid(p: PlatformHarness, clock: FakeClock, fake: FakeWeChat): Promise<void> {
  const t = (await p.h.getToken(AUTH1)).token!;
  await clock.advanceTo(t.expiresAt!.getTime());
  await eventually(async () => {
    // Retries back off on the fake clock; the reconnect itself takes real time.
    await clock.advance(1000);
    for (const appId of [AUTH1, AUTH2]) {
      const now = (await p.h.getToken(appId, 300)).token!;
      expect(now.expiresAt!.getTime()).toBeGreaterThan(clock.now());
      expect(fake.component.isAuthorizerTokenValid(appId, now.accessToken)).toBe(true);
    }
  }, 10_000);
}

describe("Redis restarts under an Open Platform", () => {
  it("with persistence (AOF): the ticket and refresh tokens are still there; no list read, no re-authorization", async () => {
    const dir = tempDir();
    const { redis, clock, fake, p } = await setup(["--appendonly", "yes", "--appendfsync", "always", "--dir", dir]);
    await redis.kill();
    await redis.start();
    // WeChat pushes nothing meanwhile: the stored ticket has to do.
    fake.component.pushUrl = undefined;
    await refreshedAndValid(p, clock, fake);
    expect(p.calls("api_get_authorizer_list")).toBe(1);
    const list = await p.list();
    expect(list.authorizers.map((a) => a.appId)).toEqual([AUTH1, AUTH2]);
    expect(list.verifyTicketExpiresAt).toBeDefined();
  });

  it("without persistence (Redis came back empty): served from memory, refresh tokens restored from WeChat's list", async () => {
    const { redis, clock, fake, p } = await setup([]);
    const lists = p.calls("api_get_authorizer_list");
    await redis.kill();
    await redis.start();
    // The reconnect reveals the loss; WeChat's list puts the refresh tokens back.
    await eventually(async () => {
      await clock.advance(0);
      expect(p.calls("api_get_authorizer_list")).toBeGreaterThan(lists);
      expect((await p.list()).authorizers.map((a) => a.appId)).toEqual([AUTH1, AUTH2]);
    }, 10_000);
    await refreshedAndValid(p, clock, fake);
    expect(p.h.logs.text()).toContain("the store no longer holds these authorizers");
  });
});

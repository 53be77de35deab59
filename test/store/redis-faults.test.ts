/**
 * Redis misbehaving under replicas: a frozen server that later runs a lock
 * attempt its replica gave up on, and quota counts written out of order.
 * Real redis-server processes, real gRPC servers on loopback, the fake WeChat
 * over HTTP.
 */
import { status } from "@grpc/grpc-js";
import { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { FakeClock } from "../../src/clock.js";
import { silentLogger } from "../../src/log.js";
import { RedisStore } from "../../src/store/redis-store.js";
import type { StoredQuota } from "../../src/core/store.js";
import { APP, eventually, grpcError, Harness, startFakeWeChat } from "../support/harness.js";
import { dropPrefix, OwnRedis, SHARED_REDIS_URL, uniquePrefix } from "../support/redis.js";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe("a Redis frozen while a replica asks for the refresh lock", () => {
  it("does not leave the lock held by nobody once it resumes", async () => {
    const redis = await OwnRedis.start();
    cleanups.push(() => redis.kill());
    const clock = new FakeClock();
    const fake = await startFakeWeChat(clock, cleanups);
    const prefix = uniquePrefix();
    // A lease far longer than the other replica waits: only a released lock lets it in.
    const replica = async () => {
      const store = new RedisStore({ url: redis.url, keyPrefix: prefix, lockLeaseMs: 30_000, lockWaitMs: 3000, log: silentLogger });
      const h = await Harness.start({ clock, fake, store });
      cleanups.push(() => h.stop());
      return h;
    };
    const a = await replica();
    const b = await replica();
    const stale = (await a.getToken(APP)).token!.accessToken;
    await eventually(async () => expect((await b.getToken(APP)).token?.accessToken).toBe(stale));

    redis.pause();
    // A's SET NX reaches the frozen server's socket; A gives up on it after the 2 s command timeout.
    const err = await grpcError(a.forceRefresh(APP, stale));
    expect(err.code).toBe(status.UNAVAILABLE);
    expect(err.details).toMatch(/shared store .* unreachable/);
    redis.resume();

    // The SET runs now, with a 30 s lease; B still gets the lock within its 3 s wait.
    const res = await b.forceRefresh(APP, stale);
    expect(res.refreshed).toBe(true);
    expect(res.token?.accessToken).not.toBe(stale);
    expect(fake.successfulTokenCalls(APP)).toBe(2);
    const direct = new Redis(redis.url);
    cleanups.push(() => direct.disconnect());
    expect(await direct.exists(`${prefix}lock:${APP}`)).toBe(0);
  });
});

describe("the shared quota count", () => {
  const DAY = Date.UTC(2030, 0, 1, 16); // 00:00 China time
  const NEXT_DAY = DAY + 86_400_000;

  async function stores(n: number): Promise<{ stores: RedisStore[]; stored: () => Promise<StoredQuota | undefined> }> {
    const prefix = uniquePrefix();
    cleanups.push(() => dropPrefix(SHARED_REDIS_URL, prefix));
    const open = async () => {
      const s = new RedisStore({ url: SHARED_REDIS_URL, keyPrefix: prefix, lockLeaseMs: 5000, log: silentLogger });
      cleanups.push(() => s.close());
      await s.load();
      return s;
    };
    const list = await Promise.all(Array.from({ length: n }, open));
    // What a replica starting now would read.
    const stored = async () => {
      const fresh = await open();
      return fresh.quota(APP);
    };
    return { stores: list, stored };
  }

  it("never goes down when a replica with a lower count saves", async () => {
    const { stores: [a, b], stored } = await stores(2);
    a!.saveQuota(APP, { day: DAY, used: 7, forced: 1, lastForcedAt: DAY + 5000 });
    await a!.flush();
    // B missed A's calls (Redis lost its data meanwhile, or the write is a late replay).
    b!.saveQuota(APP, { day: DAY, used: 3, forced: 2 });
    await b!.flush();
    expect(await stored()).toEqual({ day: DAY, used: 7, forced: 2, lastForcedAt: DAY + 5000 });
    // The writer learns the merged count too.
    expect(b!.quota(APP)).toEqual({ day: DAY, used: 7, forced: 2, lastForcedAt: DAY + 5000 });
  });

  it("starts again on a new quota day, and a late write for the day before changes nothing", async () => {
    const { stores: [a, b], stored } = await stores(2);
    a!.saveQuota(APP, { day: DAY, used: 400, forced: 90, lastForcedAt: NEXT_DAY - 1000 });
    await a!.flush();
    b!.saveQuota(APP, { day: NEXT_DAY, used: 1, forced: 0 });
    await b!.flush();
    // The ForceRefresh interval spans midnight: its time is kept.
    expect(await stored()).toEqual({ day: NEXT_DAY, used: 1, forced: 0, lastForcedAt: NEXT_DAY - 1000 });
    a!.saveQuota(APP, { day: DAY, used: 401, forced: 90, lastForcedAt: NEXT_DAY - 1000 });
    await a!.flush();
    expect(await stored()).toEqual({ day: NEXT_DAY, used: 1, forced: 0, lastForcedAt: NEXT_DAY - 1000 });
  });
});

/**
 * Several replicas sharing Redis behave as one central server: one upstream
 * call per refresh for the whole cluster, one token and one version line,
 * every replica's watchers told at once, one quota count. Real Redis, real
 * gRPC servers on loopback, the fake WeChat over HTTP, one fake clock.
 */
import { status, type ServiceError } from "@grpc/grpc-js";
import { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { FakeClock } from "../../src/clock.js";
import type { FakeWeChat } from "../../src/fake-wechat/index.js";
import { silentLogger } from "../../src/log.js";
import { RedisStore } from "../../src/store/redis-store.js";
import { TokenClient } from "../../packages/client/src/token-client.js";
import { parseConfig } from "../../src/config/load.js";
import { WxTokenServer } from "../../src/wxtoken.js";
import { APP, APP2, SECRETS, collect, eventually, grpcError, Harness, startFakeWeChat, type HarnessOptions } from "../support/harness.js";
import { dropPrefix, OwnRedis, SHARED_REDIS_URL, uniquePrefix } from "../support/redis.js";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Cluster {
  clock: FakeClock;
  fake: FakeWeChat;
  replicas: Harness[];
  prefix: string;
  url: string;
  /** Starts one more replica on the same Redis, clock and fake WeChat. */
  add(): Promise<Harness>;
}

async function cluster(
  n: number,
  opts: { url?: string; config?: HarnessOptions["config"]; beforeStart?: (fake: FakeWeChat) => void; upstreamTimeoutMs?: number } = {},
): Promise<Cluster> {
  const clock = new FakeClock();
  const fake = await startFakeWeChat(clock, cleanups);
  opts.beforeStart?.(fake);
  const url = opts.url ?? SHARED_REDIS_URL;
  const prefix = uniquePrefix();
  cleanups.push(() => dropPrefix(url, prefix));
  const replicas: Harness[] = [];
  const add = async () => {
    const store = new RedisStore({ url, keyPrefix: prefix, lockLeaseMs: 5000, log: silentLogger });
    const h = await Harness.start({ clock, fake, store, config: opts.config, upstreamTimeoutMs: opts.upstreamTimeoutMs });
    cleanups.push(() => h.stop());
    replicas.push(h);
    return h;
  };
  // Started together, as a deployment's pods are.
  await Promise.all(Array.from({ length: n }, add));
  return { clock, fake, replicas, prefix, url, add };
}

function watch(h: Harness): { versions: number[]; tokens: string[]; ended: Promise<ServiceError | undefined> } {
  const stream = h.client.watchToken({ kind: 0, agent: "", platformId: "", appId: APP, knownVersion: 0, knownFingerprint: "" });
  cleanups.push(() => stream.cancel());
  const { messages, ended } = collect(stream);
  return {
    get versions() {
      return messages.map((m) => m.token!.version);
    },
    get tokens() {
      return messages.map((m) => m.token!.accessToken);
    },
    ended,
  };
}

describe("replicas sharing Redis", () => {
  it("make one upstream call for 1,000 concurrent GetToken calls spread over them on a cold start", async () => {
    // A generous upstream timeout: 1,000 calls on a busy machine can hold the in-process fake back for seconds.
    const c = await cluster(3, { beforeStart: (fake) => fake.inject({ appId: APP, delayMs: 300 }), upstreamTimeoutMs: 10_000 });
    const results = await Promise.all(Array.from({ length: 1000 }, (_, i) => c.replicas[i % 3]!.getToken(APP)));
    expect(c.fake.successfulTokenCalls(APP)).toBe(1);
    expect(new Set(results.map((r) => r.token!.accessToken)).size).toBe(1);
    expect(new Set(results.map((r) => r.token!.version))).toEqual(new Set([1]));
  });

  it("refresh once for the cluster when the token is due, and every replica's watchers get the new token", async () => {
    const c = await cluster(2);
    const first = (await c.replicas[0]!.getToken(APP)).token!;
    const watchers = c.replicas.map(watch);
    await eventually(() => expect(watchers.map((w) => w.versions)).toEqual([[1], [1]]));
    await c.clock.advance(first.refreshAt!.getTime() - c.clock.now());
    await eventually(() => expect(watchers.map((w) => w.versions)).toEqual([[1, 2], [1, 2]]));
    expect(c.fake.successfulTokenCalls(APP)).toBe(2);
    expect(watchers[0]!.tokens[1]).toBe(watchers[1]!.tokens[1]);
    expect(c.fake.isValid(APP, watchers[0]!.tokens[1]!)).toBe(true);
  });

  it("answer ForceRefresh with the same stale token on every replica with one upstream call", async () => {
    const c = await cluster(2);
    const stale = (await c.replicas[0]!.getToken(APP)).token!.accessToken;
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => c.replicas[i % 2]!.forceRefresh(APP, stale)));
    expect(c.fake.successfulTokenCalls(APP)).toBe(2);
    const fresh = new Set(results.map((r) => r.token!.accessToken));
    expect(fresh.size).toBe(1);
    expect(fresh.has(stale)).toBe(false);
    expect(results.every((r) => r.token!.version === 2)).toBe(true);
  });

  it("push a token one replica obtained to every other replica's watchers at once", async () => {
    const c = await cluster(3);
    const first = (await c.replicas[0]!.getToken(APP)).token!;
    const watchers = c.replicas.map(watch);
    await eventually(() => expect(watchers.map((w) => w.versions)).toEqual([[1], [1], [1]]));
    // Nothing is due on the other replicas: only the push can tell them.
    const forced = (await c.replicas[0]!.forceRefresh(APP, first.accessToken)).token!;
    await eventually(() => expect(watchers.map((w) => w.tokens.at(-1))).toEqual([forced.accessToken, forced.accessToken, forced.accessToken]));
    expect(watchers.map((w) => w.versions)).toEqual([[1, 2], [1, 2], [1, 2]]);
    for (const r of c.replicas) expect((await r.getToken(APP)).token?.accessToken).toBe(forced.accessToken);
    expect(c.fake.successfulTokenCalls(APP)).toBe(2);
  });

  it("start a new replica on the cluster's token with no upstream call", async () => {
    const c = await cluster(1);
    const served = (await c.replicas[0]!.getToken(APP)).token!;
    await c.replicas[0]!.stop();
    const late = await c.add();
    const token = (await late.getToken(APP)).token!;
    expect(token.accessToken).toBe(served.accessToken);
    expect(token.version).toBe(served.version);
    expect(c.fake.successfulTokenCalls(APP)).toBe(1);
  });

  it("count one quota for the cluster", async () => {
    const c = await cluster(2, { config: { quota: { dailyBudget: 3, forceRefreshDailyBudget: 100, minForceRefreshIntervalSeconds: 0, clientForceRefreshPerMinute: 1000 } } });
    const [a, b] = c.replicas as [Harness, Harness];
    const t1 = (await a.getToken(APP)).token!.accessToken; // 1
    const t2 = (await b.forceRefresh(APP, t1)).token!.accessToken; // 2
    await a.forceRefresh(APP, t2); // 3: the budget is spent, whichever replica is asked
    const t3 = (await a.getToken(APP)).token!.accessToken;
    await eventually(async () => expect((await b.getToken(APP)).token?.accessToken).toBe(t3));
    const err = await grpcError(b.forceRefresh(APP, t3));
    expect(err.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(err.details).toMatch(/daily budget of 3/);
    expect(c.fake.successfulTokenCalls(APP)).toBe(3);
    expect((await b.getToken(APP)).token?.accessToken).toBe(t3);
  });

  it("wait out a lock left by a replica that died, then refresh once", async () => {
    const clock = new FakeClock();
    const fake = await startFakeWeChat(clock, cleanups);
    const prefix = uniquePrefix();
    cleanups.push(() => dropPrefix(SHARED_REDIS_URL, prefix));
    const redis = new Redis(SHARED_REDIS_URL);
    cleanups.push(() => redis.disconnect());
    // What a replica that crashed mid-refresh leaves behind.
    await redis.set(`${prefix}lock:${APP}`, "a-dead-replica", "PX", 1500);
    const store = new RedisStore({ url: SHARED_REDIS_URL, keyPrefix: prefix, lockLeaseMs: 5000, log: silentLogger });
    const h = await Harness.start({ clock, fake, store });
    cleanups.push(() => h.stop());
    // The other app is not held up; this one waits for the lease to run out.
    expect((await h.getToken(APP2)).token?.version).toBe(1);
    expect(fake.calls("/cgi-bin/token", APP)).toBe(0);
    expect((await h.getToken(APP)).token?.version).toBe(1);
    expect(fake.successfulTokenCalls(APP)).toBe(1);
  });
});

describe("replicas configured with store type redis", () => {
  it("share one token, from the config file alone", async () => {
    const fake = await startFakeWeChat(new FakeClock(), cleanups);
    const prefix = uniquePrefix();
    cleanups.push(() => dropPrefix(SHARED_REDIS_URL, prefix));
    const config = {
      listen: "127.0.0.1:0",
      upstream: { baseUrl: fake.url },
      store: { type: "redis", url: SHARED_REDIS_URL, keyPrefix: prefix },
      apps: [{ appId: APP, secret: SECRETS[APP]! }],
    };
    const tokens: string[] = [];
    for (let i = 0; i < 2; i++) {
      const server = await WxTokenServer.create(parseConfig(config), { log: silentLogger });
      cleanups.push(() => server.shutdown(200));
      const client = new TokenClient(`127.0.0.1:${await server.listen("127.0.0.1:0")}`);
      cleanups.push(() => client.close());
      tokens.push((await client.getToken(APP)).accessToken);
    }
    expect(tokens[1]).toBe(tokens[0]);
    expect(fake.successfulTokenCalls(APP)).toBe(1);
  });
});

describe("replicas when Redis is down", () => {
  it("keep serving the valid token, never call WeChat on their own, and refresh once Redis is back", async () => {
    const redis = await OwnRedis.start();
    cleanups.push(() => redis.kill());
    const c = await cluster(2, { url: redis.url });
    const first = (await c.replicas[0]!.getToken(APP)).token!;
    await redis.kill();
    // The refresh comes due: no lock can be had, so nobody calls WeChat...
    await c.clock.advance(first.refreshAt!.getTime() - c.clock.now());
    await eventually(() => expect(c.replicas[0]!.server.credential(APP).lastError()?.message).toMatch(/shared store .* unreachable/));
    expect(c.fake.calls("/cgi-bin/token", APP)).toBe(1);
    // ...and the valid token is still served by every replica.
    for (const r of c.replicas) expect((await r.getToken(APP)).token?.accessToken).toBe(first.accessToken);
    // Past expiry there is nothing to serve: UNAVAILABLE, saying why (to a
    // caller whose deadline ends before the next attempt: it is not joined).
    await c.clock.advance(first.expiresAt!.getTime() - c.clock.now());
    const err = await grpcError(c.replicas[1]!.getToken(APP, 150));
    expect(err.code).toBe(status.UNAVAILABLE);
    expect(err.details).toMatch(/expired.*shared store/);

    await redis.start();
    await eventually(async () => {
      await c.clock.advance(60_000);
      for (const r of c.replicas) expect((await r.getToken(APP)).token?.version).toBe(2);
    }, 15_000);
    expect(c.fake.successfulTokenCalls(APP)).toBe(2);
  });
});

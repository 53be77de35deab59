/**
 * The live replica set on real Redis (src/store/replica-registry.ts, through
 * RedisStore.replicas()): replicas see each other and split the keys, a dead
 * replica's share is taken over within one lease, one that stops cleanly is
 * gone at once, and a heartbeat costs one Redis command. One FakeClock; each
 * test under a key prefix of its own, or on a redis-server of its own.
 */
import { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { FakeClock, type Clock, type TimerHandle } from "../../src/clock.js";
import { createLogger, silentLogger } from "../../src/log.js";
import { RedisStore } from "../../src/store/redis-store.js";
import type { ReplicaRegistry } from "../../src/store/replica-registry.js";
import { eventually, LogCapture } from "../support/harness.js";
import { dropPrefix, OwnRedis, SHARED_REDIS_URL, uniquePrefix } from "../support/redis.js";

const LEASE = 15_000;
const BEAT = LEASE / 3;
const KEYS = Array.from({ length: 10_000 }, (_, i) => (i % 2 ? `wx${i.toString(16).padStart(16, "0")}` : `ww${i}/1000002#ticket`));

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A replica's clock whose process can die: time goes on, its timers never fire again. */
function mortal(clock: Clock, skewMs = 0): Clock & { kill(): void } {
  let dead = false;
  const pending = new Set<TimerHandle>();
  return {
    now: () => clock.now() + skewMs,
    setTimeout(fn, ms) {
      const handle = clock.setTimeout(() => {
        pending.delete(handle);
        if (!dead) fn();
      }, ms);
      pending.add(handle);
      return handle;
    },
    clearTimeout(handle) {
      pending.delete(handle);
      clock.clearTimeout(handle);
    },
    kill() {
      dead = true;
      for (const h of pending) clock.clearTimeout(h);
    },
  };
}

interface Replica {
  id: string;
  registry: ReplicaRegistry;
  clock: ReturnType<typeof mortal>;
  /** onChange calls so far. */
  changes: number;
}

interface Cluster {
  clock: FakeClock;
  prefix: string;
  replicas: Replica[];
  /** Advances one heartbeat interval at a time, each answered before the next. */
  tick(times?: number): Promise<void>;
}

async function cluster(ids: string[], opts: { url?: string; log?: LogCapture; skewMs?: (id: string) => number } = {}): Promise<Cluster> {
  const clock = new FakeClock();
  const url = opts.url ?? SHARED_REDIS_URL;
  const prefix = uniquePrefix();
  if (!opts.url) cleanups.push(() => dropPrefix(url, prefix));
  const replicas = ids.map((id) => {
    const c = mortal(clock, opts.skewMs?.(id) ?? 0);
    const log = opts.log ? createLogger({ level: "debug", destination: opts.log }) : silentLogger;
    const store = new RedisStore({ url, keyPrefix: prefix, lockLeaseMs: 5000, log, replicas: { id, leaseMs: LEASE, clock: c } });
    cleanups.push(() => store.close());
    const replica: Replica = { id, registry: store.replicas(), clock: c, changes: 0 };
    replica.registry.onChange(() => replica.changes++);
    return { store, replica };
  });
  // Started together, as a deployment's pods are.
  await Promise.all(replicas.map(async ({ store, replica }) => (await store.load(), await replica.registry.start())));
  const settled = () => Promise.all(replicas.map((r) => r.replica.registry.settled()));
  const tick = async (times = 1) => {
    for (let i = 0; i < times; i++) {
      await clock.advance(BEAT);
      await settled();
    }
  };
  return { clock, prefix, replicas: replicas.map((r) => r.replica), tick };
}

/** The owners of each key, from every replica's own view. */
function owners(replicas: Replica[]): Map<string, number> {
  const counts = new Map(replicas.map((r) => [r.id, 0]));
  for (const key of KEYS) {
    const owning = replicas.filter((r) => r.registry.owns(key));
    expect(owning, key).toHaveLength(1);
    counts.set(owning[0]!.id, counts.get(owning[0]!.id)! + 1);
  }
  return counts;
}

async function score(prefix: string, id: string): Promise<string | null> {
  const redis = new Redis(SHARED_REDIS_URL);
  try {
    return await redis.zscore(`${prefix}replicas`, id);
  } finally {
    redis.disconnect();
  }
}

describe("the replica registry on Redis", () => {
  it("three replicas see each other and split 10,000 keys disjointly and completely", async () => {
    const c = await cluster(["r-a", "r-b", "r-c"]);
    await c.tick();
    for (const r of c.replicas) {
      expect(r.registry.live()).toEqual(["r-a", "r-b", "r-c"]);
      expect(r.registry.liveCount()).toBe(3);
    }
    for (const [, n] of owners(c.replicas)) expect(Math.abs(n - 3333)).toBeLessThan(500);
    // Nothing changes while they all beat.
    const changes = c.replicas.map((r) => r.changes);
    await c.tick(30);
    expect(c.replicas.map((r) => r.changes)).toEqual(changes);
  });

  it("a dead replica's share is taken over within one lease of its last heartbeat, and onChange fires once", async () => {
    const c = await cluster(["r-a", "r-b", "r-c"]);
    await c.tick();
    const [a, b, dead] = c.replicas as [Replica, Replica, Replica];
    const before = new Map(KEYS.map((key) => [key, c.replicas.find((r) => r.registry.owns(key))!.id]));
    const changes = [a.changes, b.changes];
    dead.clock.kill(); // its last heartbeat was the one just answered; it does not deregister
    await c.tick(2);
    expect(a.registry.liveCount()).toBe(3); // not before its lease is over
    await c.tick(1);
    for (const r of [a, b]) expect(r.registry.live()).toEqual(["r-a", "r-b"]);
    expect([a.changes, b.changes]).toEqual([changes[0]! + 1, changes[1]! + 1]);
    const after = owners([a, b]);
    expect(after.get("r-a")! + after.get("r-b")!).toBe(KEYS.length);
    // Only the dead replica's keys moved.
    const moved = KEYS.filter((key) => a.registry.owns(key) !== (before.get(key) === "r-a"));
    expect(moved.length).toBeGreaterThan(0);
    expect(moved.every((key) => before.get(key) === "r-c")).toBe(true);
    // Its entry was left behind, and is pruned once older than four leases.
    await c.tick(3 * 3);
    expect(await score(c.prefix, "r-c")).not.toBeNull();
    await c.tick(1);
    expect(await score(c.prefix, "r-c")).toBeNull();
  });

  it("a replica that stops cleanly is gone from Redis at once, and from the others' view at their next heartbeat", async () => {
    const c = await cluster(["r-a", "r-b", "r-c"]);
    await c.tick();
    const [a, b, leaving] = c.replicas as [Replica, Replica, Replica];
    const changes = [a.changes, b.changes];
    await leaving.registry.stop();
    expect(await score(c.prefix, "r-c")).toBeNull();
    await c.tick(1);
    for (const r of [a, b]) expect(r.registry.live()).toEqual(["r-a", "r-b"]);
    expect([a.changes, b.changes]).toEqual([changes[0]! + 1, changes[1]! + 1]);
    const split = owners([a, b]);
    expect(split.get("r-a")! + split.get("r-b")!).toBe(KEYS.length);
  });

  it("a replica whose entry vanished registers again at its next heartbeat", async () => {
    const c = await cluster(["r-a", "r-b"]);
    await c.tick();
    const redis = new Redis(SHARED_REDIS_URL);
    cleanups.push(() => redis.disconnect());
    // As if the others had pruned it, or Redis had lost its data.
    await redis.zrem(`${c.prefix}replicas`, "r-b");
    await c.tick(1);
    expect(await score(c.prefix, "r-b")).toBe(String(c.clock.now()));
    // The other may have read the set just before: it sees r-b at its next heartbeat.
    await c.tick(1);
    for (const r of c.replicas) expect(r.registry.live()).toEqual(["r-a", "r-b"]);
  });

  it("a replica whose clock is 9 s behind (under two thirds of the lease) is seen live throughout", async () => {
    const c = await cluster(["r-a", "r-slow"], { skewMs: (id) => (id === "r-slow" ? -9000 : 0) });
    await c.tick();
    const a = c.replicas[0]!;
    const changes = a.changes;
    await c.tick(30);
    expect(a.registry.live()).toEqual(["r-a", "r-slow"]);
    expect(a.changes).toBe(changes);
  });

  it("keeps the last live set while Redis is unreachable, logs it once, and registers again when Redis is back empty", async () => {
    const redis = await OwnRedis.start();
    cleanups.push(() => redis.kill());
    const log = new LogCapture();
    const c = await cluster(["r-a", "r-b"], { url: redis.url, log });
    await c.tick();
    await redis.kill();
    await c.tick(3 * 4);
    for (const r of c.replicas) expect(r.registry.live()).toEqual(["r-a", "r-b"]);
    const failures = () => log.lines.filter((l) => l.includes("replica heartbeat failed")).length;
    expect(failures()).toBe(2); // once per replica
    await redis.start();
    await eventually(async () => {
      await c.tick();
      for (const r of c.replicas) expect(r.registry.live()).toEqual(["r-a", "r-b"]);
      expect(log.lines.filter((l) => l.includes("re-registered in the replica set")).length).toBe(2);
    }, 15_000);
    expect(failures()).toBe(2);
  });

  it("a heartbeat is one command on the wire, an EVAL running three: 4 as Redis counts them, 0.8/s per replica at the default lease", async () => {
    const redis = await OwnRedis.start();
    cleanups.push(() => redis.kill());
    const c = await cluster(["r-a", "r-b", "r-c"], { url: redis.url });
    await c.tick(2);
    const admin = new Redis(redis.url);
    cleanups.push(() => admin.disconnect());
    const before = await commandStats(admin);
    await c.tick(30); // 10 leases: 30 heartbeats from each of 3 replicas
    const after = await commandStats(admin);
    const delta = (name: string) => (after.get(name) ?? 0) - (before.get(name) ?? 0);
    const beats = 3 * 30;
    const sent = [...after.keys()].filter((k) => delta(k) > 0 && !["info", "zadd", "zremrangebyscore", "zrangebyscore"].includes(k));
    expect(sent).toEqual(["eval"]);
    expect(delta("eval")).toBe(beats);
    expect([delta("zadd"), delta("zremrangebyscore"), delta("zrangebyscore")]).toEqual([beats, beats, beats]);
    // What total_commands_processed (and so instantaneous_ops_per_sec) counts.
    const counted = [...after.keys()].filter((k) => k !== "info").reduce((sum, k) => sum + delta(k), 0);
    expect(counted).toBe(4 * beats);
  });
});

/** Calls per command since the server started (INFO commandstats). */
async function commandStats(redis: Redis): Promise<Map<string, number>> {
  const info = await redis.info("commandstats");
  const out = new Map<string, number>();
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) out.set(m[1]!, Number(m[2]));
  return out;
}

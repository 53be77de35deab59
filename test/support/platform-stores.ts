/**
 * Every PlatformStore, made fresh for a contract test: memory, file (JSON
 * snapshot), SQLite (real files in a temp dir) and Redis (the shared server,
 * under a prefix of the test's own). Each takes `defer`, which the test file
 * runs after each test (close, drop the prefix).
 */
import { join } from "node:path";
import { Redis } from "ioredis";
import { expect } from "vitest";
import { silentLogger } from "../../src/log.js";
import type { TokenStore } from "../../src/core/store.js";
import type { PlatformChange, PlatformStore } from "../../src/platform/store.js";
import { FileStore } from "../../src/store/file-store.js";
import { MemoryStore } from "../../src/store/memory-store.js";
import { RedisStore } from "../../src/store/redis-store.js";
import { SqliteStore } from "../../src/store/sqlite-store.js";
import { eventually, tempDir } from "./harness.js";
import { dropPrefix, SHARED_REDIS_URL, uniquePrefix } from "./redis.js";

export type Defer = (cleanup: () => unknown) => void;

export interface Subject {
  store: PlatformStore & TokenStore;
  /** Resolves once the store's listeners get changes (Redis: its subscription is up). */
  listening(): Promise<void>;
}

export interface StoreKind {
  name: string;
  create(): Promise<Subject>;
}

/** A plain Redis client on the shared server, closed after the test. */
export async function plainRedis(defer: Defer): Promise<Redis> {
  const r = new Redis(SHARED_REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await r.connect();
  defer(() => r.disconnect());
  return r;
}

/** A RedisStore on the shared server under prefix, loaded (connected), closed after the test. */
export async function redisStore(prefix: string, defer: Defer): Promise<RedisStore> {
  const store = new RedisStore({ url: SHARED_REDIS_URL, keyPrefix: prefix, lockLeaseMs: 5000, log: silentLogger });
  defer(() => store.close());
  await store.load();
  return store;
}

/** Waits until n subscribers listen on the prefix's platform channel (a change published earlier reaches nobody). */
export async function subscribed(prefix: string, n: number, defer: Defer): Promise<void> {
  const r = await plainRedis(defer);
  await eventually(async () => {
    const [, count] = (await r.call("PUBSUB", "NUMSUB", `${prefix}platform`)) as [string, number];
    expect(Number(count)).toBeGreaterThanOrEqual(n);
  });
}

export function platformStoreKinds(defer: Defer): StoreKind[] {
  return [
    {
      name: "MemoryStore",
      create: async () => ({ store: new MemoryStore(), listening: async () => undefined }),
    },
    {
      name: "FileStore",
      create: async () => {
        const store = new FileStore(join(tempDir(), "state", "tokens.json"));
        defer(() => store.close());
        return { store, listening: async () => undefined };
      },
    },
    {
      name: "SqliteStore",
      create: async () => {
        const store = new SqliteStore({ path: join(tempDir(), "state", "wxtoken.db") });
        defer(() => store.close());
        return { store, listening: async () => undefined };
      },
    },
    {
      name: "RedisStore",
      create: async () => {
        const prefix = uniquePrefix();
        defer(() => dropPrefix(SHARED_REDIS_URL, prefix));
        const store = await redisStore(prefix, defer);
        return { store, listening: () => subscribed(prefix, 1, defer) };
      },
    },
  ];
}

/** Every change a listener got, but the catch-all "all" (a Redis resubscription may add it at any time). */
export function record(store: PlatformStore): { changes: PlatformChange[]; stop: () => void } {
  const changes: PlatformChange[] = [];
  const stop = store.onPlatformChange((c) => {
    if (c.what !== "all") changes.push(c);
  });
  return { changes, stop };
}

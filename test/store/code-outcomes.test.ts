/**
 * What a redirect's authorization code was exchanged for (AuthorizeByCode),
 * kept by its digest for the code's life so that the same code handed to
 * another replica, or after a restart, answers the same tenant: one contract
 * over the memory, file, SQLite and Redis stores, then what only a durable or
 * shared store promises (a reopen, a second client, a TTL in Redis, expired
 * rows dropped in SQLite).
 */
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { silentLogger } from "../../src/log.js";
import type { CodeOutcome } from "../../src/platform/store.js";
import { SqliteStore } from "../../src/store/sqlite-store.js";
import { tempDir } from "../support/harness.js";
import { plainRedis as plainRedisOf, platformStoreKinds, redisStore as redisStoreOf } from "../support/platform-stores.js";
import { dropPrefix, SHARED_REDIS_URL, uniquePrefix } from "../support/redis.js";

const SUITE = "wwsuiteoutcomes01";
const COMPONENT = "wxcomponentoutc01";
const T0 = Date.UTC(2026, 0, 1);
const LIFE = 10 * 60_000;
const D1 = "a".repeat(64);
const D2 = "b".repeat(64);

function outcome(tenantId: string, at = T0): CodeOutcome {
  return { tenantId, authorizedAt: at, until: at + LIFE };
}

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
const defer = (c: () => unknown) => void cleanups.push(c);

describe.each(platformStoreKinds(defer))("code outcomes: $name", ({ create }) => {
  it("reads back what was saved, per platform and digest, until its time; a later save replaces it", async () => {
    const { store } = await create();
    expect(await store.codeOutcome(SUITE, D1, T0)).toBeUndefined();
    await store.saveCodeOutcome(SUITE, D1, outcome("wwcorp0000000001"), T0);
    expect(await store.codeOutcome(SUITE, D1, T0 + 1)).toEqual(outcome("wwcorp0000000001"));
    // Another digest, another platform: nothing.
    expect(await store.codeOutcome(SUITE, D2, T0 + 1)).toBeUndefined();
    expect(await store.codeOutcome(COMPONENT, D1, T0 + 1)).toBeUndefined();
    // Past its time: gone.
    expect(await store.codeOutcome(SUITE, D1, T0 + LIFE)).toBeUndefined();
    // A save of the same digest replaces it.
    await store.saveCodeOutcome(SUITE, D1, outcome("wwcorp0000000002", T0 + 5), T0 + 5);
    expect(await store.codeOutcome(SUITE, D1, T0 + 6)).toEqual(outcome("wwcorp0000000002", T0 + 5));
  });
});

describe("code outcomes in a durable or shared store", () => {
  it("SQLite: survive a reopen; a save drops the outcomes whose time has passed", async () => {
    const path = join(tempDir(), "wxtoken.db");
    const open = () => {
      const store = new SqliteStore({ path, log: silentLogger });
      defer(() => store.close());
      return store;
    };
    const before = open();
    await before.saveCodeOutcome(SUITE, D1, outcome("wwcorp0000000001"), T0);
    await before.close();
    const after = open();
    expect(await after.codeOutcome(SUITE, D1, T0 + 1)).toEqual(outcome("wwcorp0000000001"));
    await after.saveCodeOutcome(COMPONENT, D2, outcome("wxauthorizer0001", T0 + LIFE), T0 + LIFE);
    await after.close();
    const db = new Database(path, { readonly: true });
    try {
      expect(db.prepare("SELECT platform, digest, until FROM code_outcomes").all()).toEqual([{ platform: COMPONENT, digest: D2, until: T0 + 2 * LIFE }]);
    } finally {
      db.close();
    }
  });

  it("Redis: another client reads it; its key, named by the digest, expires with the code", async () => {
    const prefix = uniquePrefix();
    defer(() => dropPrefix(SHARED_REDIS_URL, prefix));
    const a = await redisStoreOf(prefix, defer);
    const b = await redisStoreOf(prefix, defer);
    await a.saveCodeOutcome(SUITE, D1, outcome("wwcorp0000000001"), T0 + LIFE - 30_000);
    expect(await b.codeOutcome(SUITE, D1, T0 + 1)).toEqual(outcome("wwcorp0000000001"));
    const r = await plainRedisOf(defer);
    const ttl = await r.pttl(`${prefix}platform:${SUITE}:code:${D1}`);
    expect(ttl).toBeGreaterThan(25_000);
    expect(ttl).toBeLessThanOrEqual(30_000);
  });
});

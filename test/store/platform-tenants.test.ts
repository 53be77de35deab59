/**
 * What a WeCom suite adds to the PlatformStore (src/platform/store.ts):
 * a tenant's agents (the agentids of the suite's app in an installed corp)
 * and the pending authorization codes (create_auth, reset_permanent_code)
 * kept before the receiver answers `success`. One contract run over the
 * memory, file, SQLite and Redis stores, then what only a durable or shared
 * store promises: a reopen (file, SQLite) or a second client (Redis) reads
 * them back, a database made before the agents column gets it at open, a
 * failed write is taken back, a Redis with persistence keeps them through a
 * SIGKILL, and no Redis key holding a long-lived secret or a pending code has
 * a TTL.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { createLogger, silentLogger } from "../../src/log.js";
import { toPendingCode, toStoredAuthorizer, type PendingCode, type StoredAuthorizer, type StoredTicket } from "../../src/platform/store.js";
import { FileStore } from "../../src/store/file-store.js";
import { RedisStore } from "../../src/store/redis-store.js";
import { SqliteStore } from "../../src/store/sqlite-store.js";
import { eventually, LogCapture, tempDir } from "../support/harness.js";
import { plainRedis as plainRedisOf, platformStoreKinds, record, redisStore as redisStoreOf } from "../support/platform-stores.js";
import { dropPrefix, OwnRedis, SHARED_REDIS_URL, uniquePrefix } from "../support/redis.js";

const SUITE = "dksuitetenants01";
const SUITE2 = "wwsuitetenants02";
const CORP1 = "wwcorptenants0001";
const CORP2 = "wwcorptenants0002";
const T0 = Date.UTC(2026, 0, 1);
const SUITE_TICKET_LIFE_MS = 30 * 60_000;

function tenant(appId: string, secret: string, agents?: string[], at = T0): StoredAuthorizer {
  return { appId, refreshToken: secret, status: "active", authorizedAt: at, updatedAt: at, ...(agents ? { agents } : {}) };
}

function pending(code: string, receivedAt: number, more: Partial<PendingCode> = {}): PendingCode {
  return { code, infoType: "create_auth", receivedAt, createdAt: receivedAt - 1000, ...more };
}

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const defer = (c: () => unknown) => void cleanups.push(c);
const plainRedis = () => plainRedisOf(defer);
const redisStore = (prefix: string) => redisStoreOf(prefix, defer);
const kinds = platformStoreKinds(defer);

describe("record checks", () => {
  it("toStoredAuthorizer keeps agents only as an array of non-empty strings, and drops the field, not the record, otherwise", () => {
    const base = tenant(CORP1, "permanent-1");
    expect(toStoredAuthorizer({ ...base, agents: ["1000002", "1000003"] })).toEqual({ ...base, agents: ["1000002", "1000003"] });
    expect(toStoredAuthorizer({ ...base, agents: [] })).toEqual({ ...base, agents: [] });
    for (const bad of [["1000002", ""], [1000002], "1000002", { 0: "1000002" }, null]) {
      const read = toStoredAuthorizer({ ...base, agents: bad });
      expect(read).toEqual(base);
      expect(read && "agents" in read).toBe(false);
    }
    // Absent stays absent (an Open Platform authorizer).
    expect("agents" in toStoredAuthorizer(base)!).toBe(false);
  });

  it("toPendingCode needs a code, an InfoType and both times; a tenantId that is not a non-empty string is dropped", () => {
    const p = pending("auth-code-1", T0, { tenantId: CORP1 });
    expect(toPendingCode(p)).toEqual(p);
    expect(toPendingCode({ ...p, tenantId: "" })).toEqual(pending("auth-code-1", T0));
    expect(toPendingCode({ ...p, tenantId: 7 })).toEqual(pending("auth-code-1", T0));
    expect(toPendingCode({ ...p, code: "" })).toBeUndefined();
    expect(toPendingCode({ ...p, infoType: undefined })).toBeUndefined();
    expect(toPendingCode({ ...p, receivedAt: "soon" })).toBeUndefined();
    expect(toPendingCode({ ...p, createdAt: Number.NaN })).toBeUndefined();
    expect(toPendingCode(null)).toBeUndefined();
  });
});

describe.each(kinds)("tenants and pending codes: $name", ({ create }) => {
  it("keeps a tenant's agents and reads them back by every read; absent stays absent; what is read is a copy", async () => {
    const { store } = await create();
    const one = tenant(CORP1, "permanent-1", ["1000002", "1000003"]);
    const none = tenant(CORP2, "permanent-2");
    expect(await store.saveAuthorizer(SUITE, one)).toBe(true);
    expect(await store.saveAuthorizers(SUITE, [none])).toEqual([true]);
    expect(await store.authorizer(SUITE, CORP1)).toEqual(one);
    expect(await store.authorizers(SUITE)).toEqual(new Map([[CORP1, one], [CORP2, none]]));
    expect(await store.authorizersOf(SUITE, [CORP1, CORP2])).toEqual(new Map([[CORP1, one], [CORP2, none]]));
    expect("agents" in (await store.authorizer(SUITE, CORP2))!).toBe(false);
    // An empty list is kept as one (the app has no agent), not dropped.
    await store.saveAuthorizer(SUITE2, tenant(CORP1, "permanent-3", []));
    expect(await store.authorizer(SUITE2, CORP1)).toEqual(tenant(CORP1, "permanent-3", []));

    const read = (await store.authorizer(SUITE, CORP1))!;
    (read.agents as string[]).push("9999999");
    expect((await store.authorizer(SUITE, CORP1))!.agents).toEqual(["1000002", "1000003"]);
  });

  it("updateAuthorizer sets the agents (change_auth) under the compare-and-set on the secret; a change without agents keeps them", async () => {
    const { store } = await create();
    await store.saveAuthorizer(SUITE, tenant(CORP1, "permanent-1", ["1000002"]));
    await store.saveAuthorizer(SUITE, tenant(CORP2, "permanent-2"));
    // Wrong secret: refused, nothing changed.
    expect(await store.updateAuthorizer(SUITE, CORP1, "permanent-stale", { agents: ["1000009"], updatedAt: T0 + 1 })).toBe(false);
    expect(await store.authorizer(SUITE, CORP1)).toEqual(tenant(CORP1, "permanent-1", ["1000002"]));
    // Right: the agents change, the secret stays.
    expect(await store.updateAuthorizer(SUITE, CORP1, "permanent-1", { agents: ["1000002", "1000004"], updatedAt: T0 + 2 })).toBe(true);
    expect(await store.authorizer(SUITE, CORP1)).toEqual({ ...tenant(CORP1, "permanent-1", ["1000002", "1000004"]), updatedAt: T0 + 2 });
    // A rotated secret (reset_permanent_code) keeps the agents.
    expect(await store.updateAuthorizer(SUITE, CORP1, "permanent-1", { refreshToken: "permanent-1b", updatedAt: T0 + 3 })).toBe(true);
    expect(await store.authorizer(SUITE, CORP1)).toEqual({ ...tenant(CORP1, "permanent-1b", ["1000002", "1000004"]), updatedAt: T0 + 3 });
    // The app lost its last agent: an empty list, read back as one.
    expect(await store.updateAuthorizer(SUITE, CORP1, "permanent-1b", { agents: [], status: "needs_reauthorization", updatedAt: T0 + 4 })).toBe(true);
    expect(await store.authorizer(SUITE, CORP1)).toEqual({ ...tenant(CORP1, "permanent-1b", []), status: "needs_reauthorization", updatedAt: T0 + 4 });
    // A tenant without agents stays without through an update that names none.
    expect(await store.updateAuthorizer(SUITE, CORP2, "permanent-2", { refreshToken: "permanent-2b", updatedAt: T0 + 5 })).toBe(true);
    const two = (await store.authorizer(SUITE, CORP2))!;
    expect(two).toEqual({ ...tenant(CORP2, "permanent-2b"), updatedAt: T0 + 5 });
    expect("agents" in two).toBe(false);
  });

  it("repairFutureTimes keeps the agents, an empty list included", async () => {
    const { store } = await create();
    const future = T0 + 365 * 86400_000;
    await store.saveAuthorizer(SUITE, tenant(CORP1, "permanent-1", ["1000002"], future));
    await store.saveAuthorizer(SUITE, tenant(CORP2, "permanent-2", [], future));
    const repaired = await store.repairFutureTimes(SUITE, T0 + 60_000, T0);
    expect(repaired.authorized.sort()).toEqual([CORP1, CORP2]);
    expect(await store.authorizers(SUITE)).toEqual(
      new Map([
        [CORP1, tenant(CORP1, "permanent-1", ["1000002"], T0)],
        [CORP2, tenant(CORP2, "permanent-2", [], T0)],
      ]),
    );
  });

  it("savePendingCode keeps a code once: a resend of it is false and changes nothing; listed oldest first, per platform; dropped for good", async () => {
    const { store } = await create();
    expect(await store.pendingCodes(SUITE)).toEqual([]);
    const late = pending("auth-code-late", T0 + 2000);
    const early = pending("auth-code-early", T0 + 1000);
    const reset = pending("auth-code-reset", T0 + 3000, { infoType: "reset_permanent_code", tenantId: CORP1 });
    expect(await store.savePendingCode(SUITE, late)).toBe(true);
    expect(await store.savePendingCode(SUITE, reset)).toBe(true);
    expect(await store.savePendingCode(SUITE, early)).toBe(true);
    // WeChat's resend: the same code, received again later.
    expect(await store.savePendingCode(SUITE, { ...late, receivedAt: T0 + 9000 })).toBe(false);
    expect(await store.pendingCodes(SUITE)).toEqual([early, late, reset]);
    expect(await store.pendingCodes(SUITE2)).toEqual([]);
    // The same code under another platform is another code.
    expect(await store.savePendingCode(SUITE2, late)).toBe(true);

    await store.dropPendingCode(SUITE, late.code);
    await store.dropPendingCode(SUITE, "auth-code-never-held");
    expect(await store.pendingCodes(SUITE)).toEqual([early, reset]);
    expect(await store.pendingCodes(SUITE2)).toEqual([late]);
    // Dropped, a code may be kept again (a resend after the exchange: the exchange then fails upstream, not here).
    expect(await store.savePendingCode(SUITE, late)).toBe(true);
    expect(await store.pendingCodes(SUITE)).toEqual([early, late, reset]);
  });

  it("one code saved by two callers at once: exactly one true", async () => {
    const { store } = await create();
    for (let round = 0; round < 10; round++) {
      const code = pending(`auth-code-race-${round}`, T0 + round);
      const results = await Promise.all([store.savePendingCode(SUITE, code), store.savePendingCode(SUITE, code)]);
      expect(results.filter(Boolean)).toHaveLength(1);
    }
    expect(await store.pendingCodes(SUITE)).toHaveLength(10);
  });

  it("pending codes tell no listener; agents changes do, as any authorizer change", async () => {
    const { store, listening } = await create();
    const heard = record(store);
    await listening();
    await store.savePendingCode(SUITE, pending("auth-code-1", T0));
    await store.dropPendingCode(SUITE, "auth-code-1");
    await store.saveAuthorizer(SUITE, tenant(CORP1, "permanent-1", ["1000002"]));
    await store.updateAuthorizer(SUITE, CORP1, "permanent-1", { agents: ["1000003"], updatedAt: T0 + 1 });
    // The last arrived, so all before it did (one channel, in order).
    await eventually(() =>
      expect(heard.changes).toEqual([
        { component: SUITE, what: "authorizer", appId: CORP1 },
        { component: SUITE, what: "authorizer", appId: CORP1 },
      ]),
    );
  });
});

describe("FileStore", () => {
  it("agents and pending codes survive a reopen; the snapshot names pending codes only while one is held", async () => {
    const path = join(tempDir(), "tokens.json");
    const before = new FileStore(path);
    await before.saveAuthorizer(SUITE, tenant(CORP1, "permanent-1", ["1000002"]));
    await before.updateAuthorizer(SUITE, CORP1, "permanent-1", { agents: ["1000002", "1000005"], updatedAt: T0 + 1 });
    await before.savePendingCode(SUITE, pending("auth-code-1", T0 + 1000));
    await before.savePendingCode(SUITE, pending("auth-code-2", T0 + 2000, { infoType: "reset_permanent_code", tenantId: CORP1 }));
    await before.close();

    const after = new FileStore(path);
    expect(await after.authorizer(SUITE, CORP1)).toEqual({ ...tenant(CORP1, "permanent-1", ["1000002", "1000005"]), updatedAt: T0 + 1 });
    expect(await after.pendingCodes(SUITE)).toEqual([
      pending("auth-code-1", T0 + 1000),
      pending("auth-code-2", T0 + 2000, { infoType: "reset_permanent_code", tenantId: CORP1 }),
    ]);
    // Still held after the reopen: a resend is refused.
    expect(await after.savePendingCode(SUITE, pending("auth-code-1", T0 + 5000))).toBe(false);
    await after.dropPendingCode(SUITE, "auth-code-1");
    await after.dropPendingCode(SUITE, "auth-code-2");
    await after.close();
    const snapshot = JSON.parse(readFileSync(path, "utf8")) as { platforms: Record<string, object> };
    expect(snapshot.platforms[SUITE]).not.toHaveProperty("pending");
    expect(await new FileStore(path).pendingCodes(SUITE)).toEqual([]);
  });

  // The receiver answers `success` only once savePendingCode resolved: a failed write must reject,
  // and be taken back, so that WeChat's resend (or the caller's retry) is saved, not refused as held.
  it("a savePendingCode whose write failed rejects and holds nothing; the resend once the disk is back is stored and durable", async () => {
    const parent = join(tempDir(), "state");
    const path = join(parent, "tokens.json");
    const logs = new LogCapture();
    const store = new FileStore(path, createLogger({ level: "debug", destination: logs }), 3_600_000);
    await store.savePendingCode(SUITE, pending("auth-code-held", T0));
    rmSync(parent, { recursive: true });
    writeFileSync(parent, "not a directory");
    await expect(store.savePendingCode(SUITE, pending("auth-code-secret-1", T0 + 1000))).rejects.toThrow(/could not write/);
    await expect(store.dropPendingCode(SUITE, "auth-code-held")).rejects.toThrow(/could not write/);
    expect(await store.pendingCodes(SUITE)).toEqual([pending("auth-code-held", T0)]);
    expect(logs.text()).toContain("could not write token snapshot");
    expect(logs.text()).not.toContain("auth-code-secret-1");

    rmSync(parent);
    mkdirSync(parent);
    expect(await store.savePendingCode(SUITE, pending("auth-code-secret-1", T0 + 1000))).toBe(true);
    expect(await new FileStore(path).pendingCodes(SUITE)).toEqual([pending("auth-code-held", T0), pending("auth-code-secret-1", T0 + 1000)]);
  });
});

describe("SqliteStore", () => {
  function sqlite(path: string): SqliteStore {
    const store = new SqliteStore({ path, log: silentLogger });
    cleanups.push(() => store.close());
    return store;
  }

  it("agents and pending codes survive a reopen", async () => {
    const path = join(tempDir(), "wxtoken.db");
    const before = sqlite(path);
    await before.saveAuthorizer(SUITE, tenant(CORP1, "permanent-1", ["1000002"]));
    await before.saveAuthorizer(SUITE, tenant(CORP2, "permanent-2"));
    await before.updateAuthorizer(SUITE, CORP1, "permanent-1", { agents: ["1000002", "1000005"], updatedAt: T0 + 1 });
    await before.savePendingCode(SUITE, pending("auth-code-2", T0 + 2000, { infoType: "reset_permanent_code", tenantId: CORP1 }));
    await before.savePendingCode(SUITE, pending("auth-code-1", T0 + 1000));
    await before.close();

    const after = sqlite(path);
    expect(await after.authorizers(SUITE)).toEqual(
      new Map([
        [CORP1, { ...tenant(CORP1, "permanent-1", ["1000002", "1000005"]), updatedAt: T0 + 1 }],
        [CORP2, tenant(CORP2, "permanent-2")],
      ]),
    );
    expect(await after.pendingCodes(SUITE)).toEqual([
      pending("auth-code-1", T0 + 1000),
      pending("auth-code-2", T0 + 2000, { infoType: "reset_permanent_code", tenantId: CORP1 }),
    ]);
    expect(await after.savePendingCode(SUITE, pending("auth-code-1", T0 + 5000))).toBe(false);
  });

  it("a database made before the agents column and the pending codes table gets both at open, and keeps what it held", async () => {
    const path = join(tempDir(), "wxtoken.db");
    // The schema as the first SQLite store made it (format 1), by hand.
    const old = new Database(path);
    old.exec(`
      CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
      CREATE TABLE tokens (key TEXT PRIMARY KEY, record TEXT NOT NULL) WITHOUT ROWID;
      CREATE TABLE quotas (key TEXT PRIMARY KEY, record TEXT NOT NULL) WITHOUT ROWID;
      CREATE TABLE tickets (
        component TEXT PRIMARY KEY, value TEXT NOT NULL, created_at INTEGER NOT NULL, received_at INTEGER NOT NULL, expires_at INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE TABLE authorizers (
        component TEXT NOT NULL, app_id TEXT NOT NULL, refresh_token TEXT NOT NULL, status TEXT NOT NULL,
        authorized_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, PRIMARY KEY (component, app_id)
      ) WITHOUT ROWID;
      CREATE TABLE deauthorized (
        component TEXT NOT NULL, app_id TEXT NOT NULL, at INTEGER NOT NULL, PRIMARY KEY (component, app_id)
      ) WITHOUT ROWID;
      INSERT INTO meta (key, value) VALUES ('format', '1');
    `);
    old
      .prepare("INSERT INTO authorizers (component, app_id, refresh_token, status, authorized_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)")
      .run("wxcomponentold001", "wxauthorizerold01", "refresh-old", "active", T0, T0);
    old.close();

    const store = sqlite(path);
    // Held before: read back, without agents.
    const held = (await store.authorizer("wxcomponentold001", "wxauthorizerold01"))!;
    expect(held).toEqual({ appId: "wxauthorizerold01", refreshToken: "refresh-old", status: "active", authorizedAt: T0, updatedAt: T0 });
    expect("agents" in held).toBe(false);
    const columns = (store.connection().prepare("PRAGMA table_info(authorizers)").all() as { name: string; notnull: number }[]).map((c) => [c.name, c.notnull]);
    expect(columns).toContainEqual(["agents", 0]);
    // What needs the new column and table works.
    expect(await store.updateAuthorizer("wxcomponentold001", "wxauthorizerold01", "refresh-old", { agents: ["1000002"], updatedAt: T0 + 1 })).toBe(true);
    await store.saveAuthorizer(SUITE, tenant(CORP1, "permanent-1", ["1000003"]));
    expect(await store.savePendingCode(SUITE, pending("auth-code-1", T0))).toBe(true);
    await store.close();

    // Opened again: nothing to add, everything there.
    const again = sqlite(path);
    expect((await again.authorizer("wxcomponentold001", "wxauthorizerold01"))!.agents).toEqual(["1000002"]);
    expect(await again.authorizer(SUITE, CORP1)).toEqual(tenant(CORP1, "permanent-1", ["1000003"]));
    expect(await again.pendingCodes(SUITE)).toEqual([pending("auth-code-1", T0)]);
  });

  it("an agents column that is not a JSON list of agentids reads as none; the record is kept", async () => {
    const path = join(tempDir(), "wxtoken.db");
    const store = sqlite(path);
    await store.saveAuthorizer(SUITE, tenant(CORP1, "permanent-1", ["1000002"]));
    await store.saveAuthorizer(SUITE, tenant(CORP2, "permanent-2", ["1000002"]));
    store.connection().prepare("UPDATE authorizers SET agents = ? WHERE app_id = ?").run("not json", CORP1);
    store.connection().prepare("UPDATE authorizers SET agents = ? WHERE app_id = ?").run('[""]', CORP2);
    expect(await store.authorizers(SUITE)).toEqual(new Map([[CORP1, tenant(CORP1, "permanent-1")], [CORP2, tenant(CORP2, "permanent-2")]]));
  });

  it("the import of a file store's snapshot brings the agents and the pending codes", async () => {
    const dir = tempDir();
    const file = new FileStore(join(dir, "tokens.json"));
    await file.saveAuthorizer(SUITE, tenant(CORP1, "permanent-1", ["1000002"]));
    await file.saveAuthorizer(SUITE, tenant(CORP2, "permanent-2"));
    await file.savePendingCode(SUITE, pending("auth-code-1", T0, { tenantId: CORP1 }));
    await file.close();

    const store = sqlite(join(dir, "wxtoken.db"));
    expect(await store.authorizers(SUITE)).toEqual(new Map([[CORP1, tenant(CORP1, "permanent-1", ["1000002"])], [CORP2, tenant(CORP2, "permanent-2")]]));
    expect(await store.pendingCodes(SUITE)).toEqual([pending("auth-code-1", T0, { tenantId: CORP1 })]);
  });
});

describe("RedisStore", () => {
  function prefixed(): string {
    const prefix = uniquePrefix();
    cleanups.push(() => dropPrefix(SHARED_REDIS_URL, prefix));
    return prefix;
  }

  it("a second client on the same prefix reads the agents and the pending codes, and refuses a resend another client kept", async () => {
    const prefix = prefixed();
    const one = await redisStore(prefix);
    const two = await redisStore(prefix);
    await one.saveAuthorizer(SUITE, tenant(CORP1, "permanent-1", ["1000002"]));
    await one.updateAuthorizer(SUITE, CORP1, "permanent-1", { agents: ["1000002", "1000005"], updatedAt: T0 + 1 });
    expect(await one.savePendingCode(SUITE, pending("auth-code-1", T0 + 1000, { tenantId: CORP1 }))).toBe(true);
    await one.close();

    expect(await two.authorizer(SUITE, CORP1)).toEqual({ ...tenant(CORP1, "permanent-1", ["1000002", "1000005"]), updatedAt: T0 + 1 });
    expect(await two.pendingCodes(SUITE)).toEqual([pending("auth-code-1", T0 + 1000, { tenantId: CORP1 })]);
    expect(await two.savePendingCode(SUITE, pending("auth-code-1", T0 + 9000))).toBe(false);
    await two.dropPendingCode(SUITE, "auth-code-1");
    const three = await redisStore(prefix);
    expect(await three.pendingCodes(SUITE)).toEqual([]);
  });

  it("with persistence on (AOF, fsync always), a Redis killed with SIGKILL keeps the agents and the pending codes", async () => {
    const redis = await OwnRedis.start(["--appendonly", "yes", "--appendfsync", "always", "--dir", tempDir()]);
    cleanups.push(() => redis.kill());
    const open = async () => {
      const store = new RedisStore({ url: redis.url, keyPrefix: "wxtoken:", lockLeaseMs: 5000, log: silentLogger });
      cleanups.push(() => store.close());
      await store.load();
      return store;
    };
    const before = await open();
    await before.saveAuthorizer(SUITE, tenant(CORP1, "permanent-1", ["1000002"]));
    await before.savePendingCode(SUITE, pending("auth-code-1", T0, { infoType: "reset_permanent_code", tenantId: CORP1 }));
    await redis.kill();
    await redis.start();

    const after = await open();
    expect(await after.authorizer(SUITE, CORP1)).toEqual(tenant(CORP1, "permanent-1", ["1000002"]));
    expect(await after.pendingCodes(SUITE)).toEqual([pending("auth-code-1", T0, { infoType: "reset_permanent_code", tenantId: CORP1 })]);
  });

  it("a record whose agents are not a list of agentids reads without them; a malformed pending code is skipped", async () => {
    const prefix = prefixed();
    const store = await redisStore(prefix);
    const r = await plainRedis();
    await r.hset(`${prefix}platform:${SUITE}:authorizers`, CORP1, JSON.stringify({ ...tenant(CORP1, "permanent-1"), agents: "1000002" }));
    await r.hset(`${prefix}platform:${SUITE}:pending`, "auth-code-bad", JSON.stringify({ code: "auth-code-bad" }));
    await r.hset(`${prefix}platform:${SUITE}:pending`, "auth-code-other", JSON.stringify(pending("auth-code-renamed", T0)));
    await store.savePendingCode(SUITE, pending("auth-code-good", T0));
    expect(await store.authorizer(SUITE, CORP1)).toEqual(tenant(CORP1, "permanent-1"));
    expect(await store.pendingCodes(SUITE)).toEqual([pending("auth-code-good", T0)]);
  });

  it("no TTL on anything holding a long-lived secret or a pending code; a 30-minute suite ticket's TTL comes from its own life", async () => {
    const prefix = prefixed();
    const store = await redisStore(prefix);
    const r = await plainRedis();
    await store.saveAuthorizer(SUITE, tenant(CORP1, "permanent-1", ["1000002"]));
    await store.saveAuthorizers(SUITE, [tenant(CORP2, "permanent-2")]);
    await store.updateAuthorizer(SUITE, CORP1, "permanent-1", { refreshToken: "permanent-1b", agents: ["1000003"], updatedAt: T0 + 1 });
    await store.removeAuthorizer(SUITE, "wwcorpgone", T0 + 2, []);
    await store.savePendingCode(SUITE, pending("auth-code-1", T0));
    await store.savePendingCode(SUITE, pending("auth-code-1", T0 + 5)); // the resend
    await store.savePendingCode(SUITE, pending("auth-code-2", T0 + 10));
    await store.dropPendingCode(SUITE, "auth-code-2");
    await store.repairFutureTimes(SUITE, T0 + 60_000, T0);

    const receivedAt = Date.now();
    const ticket: StoredTicket = { value: "suite-ticket-1", createdAt: receivedAt - 1000, receivedAt, expiresAt: receivedAt + SUITE_TICKET_LIFE_MS };
    await store.saveTicket(SUITE, ticket);
    const ticketTtl = await r.pttl(`${prefix}platform:${SUITE}:ticket`);
    // Not cut before its life (the caller checks expiresAt), and kept an hour past it, no more: not a 12-hour life.
    expect(ticketTtl).toBeGreaterThan(ticket.expiresAt - Date.now());
    expect(ticketTtl).toBeGreaterThan(SUITE_TICKET_LIFE_MS + 3600_000 - 60_000);
    expect(ticketTtl).toBeLessThanOrEqual(SUITE_TICKET_LIFE_MS + 3600_000);

    // Every key under the prefix: only the ticket expires.
    const keys = await r.keys(`${prefix}*`);
    expect(keys.sort()).toEqual(
      [`${prefix}platform:${SUITE}:authorizers`, `${prefix}platform:${SUITE}:deauthorized`, `${prefix}platform:${SUITE}:pending`, `${prefix}platform:${SUITE}:ticket`].sort(),
    );
    for (const key of keys) {
      if (key.endsWith(":ticket")) continue;
      expect({ key, ttl: await r.pttl(key) }).toEqual({ key, ttl: -1 });
    }
  });
});

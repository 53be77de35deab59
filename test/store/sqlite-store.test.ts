/**
 * What the SQLite store promises beyond the PlatformStore contract (run on it
 * in platform-store.test.ts): everything survives a restart; its files are
 * private; saves made in one tick are one transaction; a change costs the
 * same work with 2,000 accounts stored as with 20; a write the disk refuses
 * is a rejection (platform) or retried (tokens); a file that is not a
 * database is moved aside.
 */
import Database from "better-sqlite3";
import { chmodSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createLogger } from "../../src/log.js";
import type { StoredCredential } from "../../src/core/store.js";
import type { StoredAuthorizer, StoredTicket } from "../../src/platform/store.js";
import { SqliteStore } from "../../src/store/sqlite-store.js";
import { eventually, LogCapture, tempDir } from "../support/harness.js";
import { record } from "../support/platform-stores.js";

const C1 = "wxcomponentsqlite1";
const T0 = Date.UTC(2026, 0, 1);

const ticketAt = (createdAt: number, value: string): StoredTicket => ({ value, createdAt, receivedAt: createdAt, expiresAt: createdAt + 12 * 3600_000 });
const authorizer = (appId: string, refreshToken: string, at = T0): StoredAuthorizer => ({ appId, refreshToken, status: "active", authorizedAt: at, updatedAt: at });
const token = (key: string, value: string, version = 1): StoredCredential => ({ key, value, version, obtainedAt: T0, expiresAt: T0 + 7200_000 });

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function open(path: string, log?: LogCapture, firstRetryMs?: number): SqliteStore {
  const store = new SqliteStore({ path, log: log && createLogger({ level: "debug", destination: log }), firstRetryMs });
  cleanups.push(() => store.close());
  return store;
}

const mode = (path: string) => statSync(path).mode & 0o777;

describe("SqliteStore", () => {
  it("keeps tokens, quota counts, tickets, authorizers and de-authorizations across a restart", async () => {
    const path = join(tempDir(), "wxtoken.db");
    const before = open(path);
    expect((await before.load()).size).toBe(0);
    before.save(token("wxapp", "access-1", 3));
    before.save({ ...token("wxapp#jsapi_ticket", "ticket-1"), refreshAt: T0 + 60_000 });
    before.saveQuota("wxapp", { day: T0, used: 5, forced: 1, lastForcedAt: T0 + 5 });
    await before.saveTicket(C1, ticketAt(T0, "ticket-c1"));
    await before.saveAuthorizer(C1, authorizer("wxa1", "refresh-1"));
    await before.saveAuthorizer(C1, authorizer("wxa2", "refresh-2"));
    await before.updateAuthorizer(C1, "wxa1", "refresh-1", { refreshToken: "refresh-1b", status: "needs_reauthorization", updatedAt: T0 + 9 });
    expect(await before.removeAuthorizer(C1, "wxa2", T0 + 1000, [])).toBe("removed");
    await before.close();
    // Closed cleanly: the log was checkpointed into the database and removed.
    expect(readdirSync(join(path, "..")).sort()).toEqual(["wxtoken.db"]);

    const after = open(path);
    expect(await after.load()).toEqual(
      new Map([
        ["wxapp", token("wxapp", "access-1", 3)],
        ["wxapp#jsapi_ticket", { ...token("wxapp#jsapi_ticket", "ticket-1"), refreshAt: T0 + 60_000 }],
      ]),
    );
    expect(after.quota("wxapp")).toEqual({ day: T0, used: 5, forced: 1, lastForcedAt: T0 + 5 });
    expect(after.quota("wxother")).toBeUndefined();
    expect(await after.ticket(C1)).toEqual(ticketAt(T0, "ticket-c1"));
    expect(await after.authorizers(C1)).toEqual(new Map([["wxa1", { ...authorizer("wxa1", "refresh-1b"), status: "needs_reauthorization", updatedAt: T0 + 9 }]]));
    // The de-authorization survived too: an authorization made before it is still refused.
    expect(await after.saveAuthorizer(C1, authorizer("wxa2", "refresh-late", T0 + 500))).toBe(false);
    expect(await after.saveTicket(C1, ticketAt(T0 - 1, "ticket-older"))).toBe(false);
  });

  it("is private: directory 0700, database, -wal and -shm 0600; a database left 0644 is tightened at open", async () => {
    const dir = join(tempDir(), "state");
    const path = join(dir, "wxtoken.db");
    const store = open(path);
    await store.load();
    await store.saveAuthorizer(C1, authorizer("wxa1", "refresh-1"));
    expect(mode(dir)).toBe(0o700);
    for (const f of [path, `${path}-wal`, `${path}-shm`]) expect([f, mode(f)]).toEqual([f, 0o600]);
    await store.close();

    chmodSync(path, 0o644);
    const again = open(path);
    await again.load();
    await again.saveTicket(C1, ticketAt(T0, "ticket-c1"));
    for (const f of [path, `${path}-wal`, `${path}-shm`]) expect([f, mode(f)]).toEqual([f, 0o600]);
    // Nothing secret in the clear outside the database: no temp or journal files beside it.
    expect(readdirSync(dir).sort()).toEqual(["wxtoken.db", "wxtoken.db-shm", "wxtoken.db-wal"]);
  });

  it("writes every token and quota saved in one tick in one transaction, and none before the tick ends", async () => {
    const path = join(tempDir(), "wxtoken.db");
    const store = open(path);
    await store.load();
    const before = { ...store.work };
    for (let i = 0; i < 50; i++) store.save(token(`wxapp${i}`, `access-${i}`));
    store.save(token("wxapp0", "access-0-again", 2)); // the newer save of a key wins
    store.saveQuota("wxapp0", { day: T0, used: 1, forced: 0 });
    expect(store.work).toEqual(before);
    // Its own quota read sees the save before it is written.
    expect(store.quota("wxapp0")).toEqual({ day: T0, used: 1, forced: 0 });
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(store.work.transactions - before.transactions).toBe(1);
    expect(store.work.statements - before.statements).toBe(51);
    const other = open(path);
    const loaded = await other.load();
    expect(loaded.size).toBe(50);
    expect(loaded.get("wxapp0")).toEqual(token("wxapp0", "access-0-again", 2));
  });

  it("a change costs the same work with 2,000 accounts stored as with 20: statements, transactions and bytes written to the log", async () => {
    async function perChange(n: number) {
      const path = join(tempDir(), "wxtoken.db");
      const store = open(path);
      await store.load();
      await store.saveAuthorizers(
        C1,
        Array.from({ length: n }, (_, i) => authorizer(`wxheld${String(i).padStart(6, "0")}`, `refresh-held-${i}-${"x".repeat(200)}`)),
      );
      for (let i = 0; i < n; i++) store.save(token(`wxheld${String(i).padStart(6, "0")}`, `access-${i}-${"y".repeat(200)}`));
      await store.flush();
      // Start the log afresh (another connection may checkpoint), so its size is what the changes below wrote.
      const side = new Database(path);
      side.pragma("wal_checkpoint(TRUNCATE)");
      side.close();
      expect(statSync(`${path}-wal`).size).toBe(0);
      const start = { ...store.work };
      const rounds = 20;
      for (let i = 0; i < rounds; i++) {
        const appId = `wxnew${String(i).padStart(6, "0")}`;
        await store.saveAuthorizer(C1, authorizer(appId, `refresh-new-${i}`));
        await store.updateAuthorizer(C1, appId, `refresh-new-${i}`, { refreshToken: `refresh-rotated-${i}`, updatedAt: T0 + 1 });
        await store.saveTicket(C1, ticketAt(T0 + i, `ticket-${i}`));
        store.save(token(appId, `access-new-${i}`));
        await store.flush();
        expect(await store.removeAuthorizer(C1, `wxheld${String(i).padStart(6, "0")}`, T0 + 1, [`wxheld${String(i).padStart(6, "0")}`])).toBe("removed");
      }
      // Five changes a round: a new account, a rotation, a ticket, a token, a de-authorization.
      const changes = rounds * 5;
      return {
        statements: (store.work.statements - start.statements) / rounds,
        transactions: (store.work.transactions - start.transactions) / changes,
        walBytes: statSync(`${path}-wal`).size / changes,
        dbBytes: statSync(path).size,
      };
    }
    const small = await perChange(20);
    const large = await perChange(2_000);
    // Each change its own transaction; the round's 13 statements whatever the size
    // (a change that read or wrote every account would be 2,000 more).
    expect(small.transactions).toBe(1);
    expect(large.transactions).toBe(1);
    expect(small.statements).toBe(13);
    expect(large.statements).toBe(13);
    // Bytes written per change: the few pages it touched (a page split now and then), not the
    // database 20 times bigger, which a whole-snapshot store rewrites at every change.
    expect(large.dbBytes).toBeGreaterThan(20 * small.dbBytes);
    expect(large.walBytes).toBeLessThan(1.5 * small.walBytes);
    expect(large.walBytes).toBeLessThan(large.dbBytes / 100);
  });

  it("a platform change the disk refuses is rejected, stores nothing and tells nobody; tokens it refused are written by the retry", async () => {
    const path = join(tempDir(), "wxtoken.db");
    const logs = new LogCapture();
    const store = open(path, logs, 20);
    await store.load();
    await store.saveAuthorizer(C1, authorizer("wxa1", "refresh-1"));
    const db = store.connection();
    const pages = db.pragma("page_count", { simple: true }) as number;
    // A full disk: no page may be added.
    db.pragma(`max_page_count = ${pages}`);
    const heard = record(store);
    const big = "z".repeat(20_000);
    await expect(store.saveAuthorizer(C1, authorizer("wxa2", `refresh-${big}`))).rejects.toThrow(/could not write .*SQLITE_FULL/);
    await expect(store.saveAuthorizers(C1, [authorizer("wxa1", "refresh-1b", T0 + 1), authorizer("wxa3", `refresh-${big}`)])).rejects.toThrow(/could not write/);
    expect(heard.changes).toEqual([]);
    expect(await store.authorizers(C1)).toEqual(new Map([["wxa1", authorizer("wxa1", "refresh-1")]]));
    store.save(token("wxbig", `access-${big}`));
    await store.flush();
    expect(logs.text()).toContain("could not write tokens to the token database");
    expect(logs.text()).not.toContain(big);

    db.pragma("max_page_count = 1073741823");
    // No further save: the retry alone writes it.
    await eventually(async () => expect((await open(path).load()).get("wxbig")?.value).toBe(`access-${big}`));
    expect(await store.saveAuthorizer(C1, authorizer("wxa2", "refresh-2"))).toBe(true);
    expect(heard.changes).toEqual([{ component: C1, what: "authorizer", appId: "wxa2" }]);
  });

  it("a de-authorization drops a token saved but not yet written, so the write that follows does not bring it back", async () => {
    const path = join(tempDir(), "wxtoken.db");
    const store = open(path);
    await store.load();
    await store.saveAuthorizer(C1, authorizer("wxa1", "refresh-1"));
    store.save(token("wxa1", "access-revoked"));
    store.save(token("wxkept", "access-kept"));
    expect(await store.removeAuthorizer(C1, "wxa1", T0 + 1, ["wxa1"])).toBe("removed");
    await store.flush();
    expect([...(await open(path).load()).keys()]).toEqual(["wxkept"]);
  });

  it("moves a file that is not a database aside (kept for recovery) and starts empty; refuses a database of a newer format", async () => {
    const dir = tempDir();
    const path = join(dir, "wxtoken.db");
    writeFileSync(path, "this is not a database, but it is long enough to have a header".repeat(10), { mode: 0o600 });
    const logs = new LogCapture();
    const store = open(path, logs);
    expect((await store.load()).size).toBe(0);
    const aside = readdirSync(dir).filter((f) => f.startsWith("wxtoken.db.unreadable-"));
    expect(aside).toHaveLength(1);
    expect(readFileSync(join(dir, aside[0]!), "utf8")).toContain("this is not a database");
    expect(logs.text()).toContain("token database unreadable; moved aside");
    expect(await store.saveTicket(C1, ticketAt(T0, "ticket-c1"))).toBe(true);
    await store.close();

    const newer = new Database(path);
    newer.prepare("UPDATE meta SET value = '99' WHERE key = 'format'").run();
    newer.close();
    await expect(open(path).load()).rejects.toThrow(/unknown store format 99/);
    expect(existsSync(path)).toBe(true);
  });
});

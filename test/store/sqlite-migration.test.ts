/**
 * From the file store to the SQLite store: at its first start the SQLite
 * store imports the JSON snapshot beside it (or the one store.importFrom
 * names), every kind of record, then renames it `<name>.migrated-<ms>`
 * (never deleted: it holds refresh tokens). A database once made never
 * imports again. A server upgraded from the old default keeps serving its
 * token with no upstream call.
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { FakeClock } from "../../src/clock.js";
import { parseConfig } from "../../src/config/load.js";
import { createLogger, silentLogger } from "../../src/log.js";
import type { StoredAuthorizer, StoredTicket } from "../../src/platform/store.js";
import { FileStore } from "../../src/store/file-store.js";
import { SqliteStore } from "../../src/store/sqlite-store.js";
import { openStore } from "../../src/wxtoken.js";
import { APP, Harness, LogCapture, startFakeWeChat, tempDir } from "../support/harness.js";

const C1 = "wxcomponentmigrat1";
const C2 = "wxcomponentmigrat2";
const T0 = Date.UTC(2026, 0, 1);

const ticketAt = (createdAt: number, value: string): StoredTicket => ({ value, createdAt, receivedAt: createdAt, expiresAt: createdAt + 12 * 3600_000 });
const authorizer = (appId: string, refreshToken: string, at = T0): StoredAuthorizer => ({ appId, refreshToken, status: "active", authorizedAt: at, updatedAt: at });

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function sqlite(path: string, logs?: LogCapture, importFrom?: string): SqliteStore {
  const store = new SqliteStore({ path, importFrom, log: logs ? createLogger({ level: "debug", destination: logs }) : silentLogger });
  cleanups.push(() => store.close());
  return store;
}

/** A snapshot written by the file store itself, holding every kind of record. */
async function snapshotWithEverything(path: string): Promise<void> {
  const file = new FileStore(path);
  await file.load();
  file.save({ key: "wxapp", value: "access-secret-value", version: 4, obtainedAt: T0, expiresAt: T0 + 7200_000 });
  file.save({ key: "wxapp#jsapi_ticket", value: "jsapi-secret-value", version: 2, obtainedAt: T0, expiresAt: T0 + 7200_000, refreshAt: T0 + 7000_000 });
  file.saveQuota("wxapp", { day: T0, used: 7, forced: 2, lastForcedAt: T0 + 60_000 });
  file.saveQuota("hour:ww1", { day: T0, used: 3, forced: 0 });
  await file.saveTicket(C1, ticketAt(T0, "ticket-secret-c1"));
  await file.saveTicket(C2, ticketAt(T0 + 5, "ticket-secret-c2"));
  await file.saveAuthorizer(C1, authorizer("wxa1", "refresh-secret-a1"));
  await file.saveAuthorizer(C1, { ...authorizer("wxa2", "refresh-secret-a2", T0 + 1), status: "needs_reauthorization" });
  await file.saveAuthorizer(C2, authorizer("wxa1", "refresh-secret-a1-of-c2"));
  expect(await file.removeAuthorizer(C1, "wxgone", T0 + 50_000, [])).toBe("not_held");
  await file.close();
}

/** Everything a store holds, read through its own interface. */
async function contents(store: FileStore | SqliteStore) {
  return {
    tokens: await store.load(),
    quotas: [store.quota("wxapp"), store.quota("hour:ww1")],
    tickets: [await store.ticket(C1), await store.ticket(C2)],
    authorizers: [await store.authorizers(C1), await store.authorizers(C2)],
    // The de-authorization, seen through the rule it enforces: an authorization made before it is refused.
    refusedBeforeDeauthorization: !(await store.saveAuthorizers(C1, [authorizer("wxgone", "refresh-late", T0 + 40_000)]))[0],
  };
}

describe("migration from the JSON snapshot", () => {
  it("imports tokens, quota counts, tickets, authorizers and de-authorizations, renames the snapshot, and says what it moved", async () => {
    const dir = tempDir();
    const json = join(dir, "tokens.json");
    await snapshotWithEverything(json);
    const original = readFileSync(json, "utf8");
    // What the file store itself reads from the snapshot: the expectation.
    const expected = await contents(await readAsFileStore(original));

    const logs = new LogCapture();
    const store = sqlite(join(dir, "wxtoken.db"), logs);
    expect(await contents(store)).toEqual(expected);
    expect(expected.tokens.size).toBe(2);
    expect(expected.authorizers[0]!.size).toBe(2);
    expect(expected.refusedBeforeDeauthorization).toBe(true);

    const files = readdirSync(dir).sort();
    const moved = files.find((f) => /^tokens\.json\.migrated-\d+$/.test(f));
    expect(moved).toBeDefined();
    expect(files).not.toContain("tokens.json");
    expect(readFileSync(join(dir, moved!), "utf8")).toBe(original);
    const line = logs.lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === "token snapshot migrated into the database");
    expect(line).toMatchObject({
      from: json,
      to: join(dir, "wxtoken.db"),
      movedTo: join(dir, moved!),
      tokens: 2,
      quotas: 2,
      platforms: { [C1]: { ticket: true, authorizers: 2, deauthorized: 1, pending: 0 }, [C2]: { ticket: true, authorizers: 1, deauthorized: 0, pending: 0 } },
    });
    expect(logs.text()).not.toMatch(/secret-value|refresh-secret|ticket-secret/);
  });

  it("a database once made never imports again: a snapshot put beside it later is left alone", async () => {
    const dir = tempDir();
    await snapshotWithEverything(join(dir, "tokens.json"));
    const first = sqlite(join(dir, "wxtoken.db"));
    const held = await contents(first);
    await first.close();

    writeFileSync(join(dir, "tokens.json"), JSON.stringify({ format: 1, tokens: { wxother: { key: "wxother", value: "v", version: 1, obtainedAt: T0, expiresAt: T0 + 1 } } }));
    const logs = new LogCapture();
    const second = sqlite(join(dir, "wxtoken.db"), logs);
    const again = await contents(second);
    expect(again.tokens).toEqual(held.tokens);
    expect(again.authorizers).toEqual(held.authorizers);
    expect(readdirSync(dir).filter((f) => f.startsWith("tokens.json"))).toHaveLength(2);
    expect(logs.text()).not.toContain("migrated");
  });

  it("imports the snapshot importFrom names; an unreadable one is left where it is and the database starts empty, for good", async () => {
    const dir = tempDir();
    const elsewhere = join(tempDir(), "old-store.json");
    await snapshotWithEverything(elsewhere);
    const store = sqlite(join(dir, "wxtoken.db"), undefined, elsewhere);
    expect((await store.load()).size).toBe(2);
    expect(readdirSync(join(elsewhere, "..")).some((f) => f.startsWith("old-store.json.migrated-"))).toBe(true);

    const other = tempDir();
    writeFileSync(join(other, "tokens.json"), "{not json");
    const logs = new LogCapture();
    const empty = sqlite(join(other, "wxtoken.db"), logs);
    expect((await empty.load()).size).toBe(0);
    expect(logs.text()).toContain("token snapshot unreadable: not migrated, left where it is");
    expect(readFileSync(join(other, "tokens.json"), "utf8")).toBe("{not json");
    await empty.close();
    writeFileSync(join(other, "tokens.json"), readFileSync(join(elsewhere, "..", readdirSync(join(elsewhere, "..")).find((f) => f.startsWith("old-store.json."))!)));
    expect((await sqlite(join(other, "wxtoken.db")).load()).size).toBe(0);
  });

  it("the default config is the SQLite store at .wxtoken/wxtoken.db, relative to the config file; type file still opens the snapshot", () => {
    const dir = tempDir();
    const env = { WX_SECRET: "x".repeat(32) };
    const loaded = parseConfig({ apps: [{ appId: APP, secretEnv: "WX_SECRET" }] }, { baseDir: dir, env });
    expect(loaded.config.store).toEqual({ type: "sqlite", path: ".wxtoken/wxtoken.db" });
    expect(loaded.storePath).toBe(join(dir, ".wxtoken/wxtoken.db"));
    const store = openStore(loaded, silentLogger);
    expect(store).toBeInstanceOf(SqliteStore);
    expect((store as SqliteStore).path).toBe(join(dir, ".wxtoken/wxtoken.db"));
    const custom = parseConfig({ apps: [{ appId: APP, secretEnv: "WX_SECRET" }], store: { type: "sqlite", path: "db/x.db", importFrom: "old/tokens.json" } }, { baseDir: dir, env });
    expect(custom.storeImportFrom).toBe(join(dir, "old/tokens.json"));
    const file = openStore(parseConfig({ apps: [{ appId: APP, secretEnv: "WX_SECRET" }], store: { type: "file" } }, { baseDir: dir, env }), silentLogger);
    expect(file).toBeInstanceOf(FileStore);
    expect((file as FileStore).path).toBe(join(dir, ".wxtoken/tokens.json"));
  });

  it("a server upgraded from the old default (.wxtoken/tokens.json) serves the token it held, with no upstream call, before and after another restart", async () => {
    const clock = new FakeClock();
    const fake = await startFakeWeChat(clock, cleanups);
    const dir = join(tempDir(), ".wxtoken");
    const old = await Harness.start({ clock, fake, storePath: join(dir, "tokens.json") });
    const held = (await old.getToken(APP)).token!;
    await old.stop();
    // One token per configured app (APP and APP2), both in the snapshot.
    expect(fake.successfulTokenCalls()).toBe(2);

    for (let start = 0; start < 2; start++) {
      const h = await Harness.start({ clock, fake, config: { store: { type: "sqlite", path: join(dir, "wxtoken.db") } } });
      const served = (await h.getToken(APP)).token!;
      await h.stop();
      expect(served.accessToken).toBe(held.accessToken);
      expect(served.version).toBe(held.version);
      expect(fake.successfulTokenCalls()).toBe(2);
    }
    expect(readdirSync(dir).filter((f) => f.startsWith("tokens.json"))).toEqual([expect.stringMatching(/^tokens\.json\.migrated-\d+$/)]);
  });
});

/** A FileStore reading a copy of the snapshot (the original stays for the migration). */
async function readAsFileStore(text: string): Promise<FileStore> {
  const copy = join(tempDir(), "tokens.json");
  writeFileSync(copy, text);
  return new FileStore(copy);
}

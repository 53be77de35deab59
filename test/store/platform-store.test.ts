/**
 * The PlatformStore contract (src/platform/store.ts): one suite run over
 * the memory, file, SQLite and Redis stores (the batch half is in
 * platform-store-batch.test.ts, the SQLite store's own promises in
 * sqlite-store.test.ts), then what only a durable or shared store promises (a
 * restart keeps everything, the snapshot's shape and mode, a failed write is
 * a rejection, TTLs, pub/sub across replicas, atomic compare-and-set between
 * replicas).
 */
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createLogger } from "../../src/log.js";
import type { PlatformChange, StoredAuthorizer, StoredTicket } from "../../src/platform/store.js";
import { FileStore } from "../../src/store/file-store.js";
import { eventually, LogCapture, tempDir } from "../support/harness.js";
import { plainRedis as plainRedisOf, platformStoreKinds, record, redisStore as redisStoreOf, subscribed as subscribedOf } from "../support/platform-stores.js";
import { dropPrefix, SHARED_REDIS_URL, uniquePrefix } from "../support/redis.js";

const C1 = "wxcomponentstore01";
const C2 = "wxcomponentstore02";
const A1 = "wxauthorizerstor01";
const A2 = "wxauthorizerstor02";
const T0 = Date.UTC(2026, 0, 1);
const TICKET_LIFE_MS = 12 * 3600_000;

function ticketAt(createdAt: number, value: string): StoredTicket {
  return { value, createdAt, receivedAt: createdAt + 1000, expiresAt: createdAt + 1000 + TICKET_LIFE_MS };
}

function authorizer(appId: string, refreshToken: string, at = T0): StoredAuthorizer {
  return { appId, refreshToken, status: "active", authorizedAt: at, updatedAt: at };
}

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const defer = (c: () => unknown) => void cleanups.push(c);
const plainRedis = () => plainRedisOf(defer);
const redisStore = (prefix: string) => redisStoreOf(prefix, defer);
const subscribed = (prefix: string, n: number) => subscribedOf(prefix, n, defer);
const kinds = platformStoreKinds(defer);

describe.each(kinds)("PlatformStore contract: $name", ({ create }) => {
  it("saves a ticket and reads it back; nothing is held before", async () => {
    const { store } = await create();
    expect(await store.ticket(C1)).toBeUndefined();
    const t = ticketAt(T0, "ticket-one");
    expect(await store.saveTicket(C1, t)).toBe(true);
    expect(await store.ticket(C1)).toEqual(t);
    // What was read is a copy: changing it changes nothing stored.
    const read = (await store.ticket(C1))!;
    read.value = "mutated";
    expect((await store.ticket(C1))!.value).toBe("ticket-one");
  });

  it("refuses a ticket created earlier than the held one (false) and keeps the newer; a newer or equally new one replaces it", async () => {
    const { store } = await create();
    const newer = ticketAt(T0 + 60_000, "ticket-newer");
    expect(await store.saveTicket(C1, newer)).toBe(true);
    expect(await store.saveTicket(C1, ticketAt(T0, "ticket-older"))).toBe(false);
    expect(await store.ticket(C1)).toEqual(newer);
    const again = ticketAt(T0 + 60_000, "ticket-same-time");
    expect(await store.saveTicket(C1, again)).toBe(true);
    expect(await store.ticket(C1)).toEqual(again);
    const newest = ticketAt(T0 + 120_000, "ticket-newest");
    expect(await store.saveTicket(C1, newest)).toBe(true);
    expect(await store.ticket(C1)).toEqual(newest);
  });

  it("never shares a ticket between two component appids", async () => {
    const { store } = await create();
    const one = ticketAt(T0 + 60_000, "ticket-of-one");
    expect(await store.saveTicket(C1, one)).toBe(true);
    expect(await store.ticket(C2)).toBeUndefined();
    // An older ticket for C2 is not compared with C1's.
    const two = ticketAt(T0, "ticket-of-two");
    expect(await store.saveTicket(C2, two)).toBe(true);
    expect(await store.ticket(C1)).toEqual(one);
    expect(await store.ticket(C2)).toEqual(two);
  });

  it("saves, lists and gets authorizers, per component", async () => {
    const { store } = await create();
    expect((await store.authorizers(C1)).size).toBe(0);
    expect(await store.authorizer(C1, A1)).toBeUndefined();
    const a1 = authorizer(A1, "refresh-a1");
    const a2 = { ...authorizer(A2, "refresh-a2", T0 + 5), status: "needs_reauthorization" as const };
    await store.saveAuthorizer(C1, a1);
    await store.saveAuthorizer(C1, a2);
    await store.saveAuthorizer(C2, authorizer(A1, "refresh-a1-of-c2"));
    expect(await store.authorizers(C1)).toEqual(new Map([[A1, a1], [A2, a2]]));
    expect(await store.authorizer(C1, A2)).toEqual(a2);
    expect(await store.authorizers(C2)).toEqual(new Map([[A1, authorizer(A1, "refresh-a1-of-c2")]]));
    // Saving again replaces (a re-authorization).
    const again = authorizer(A1, "refresh-a1-reauthorized", T0 + 10);
    await store.saveAuthorizer(C1, again);
    expect(await store.authorizer(C1, A1)).toEqual(again);
    expect((await store.authorizers(C1)).size).toBe(2);
    expect(await store.authorizer(C2, A1)).toEqual(authorizer(A1, "refresh-a1-of-c2"));
  });

  it("updateAuthorizer is a compare-and-set on the refresh token", async () => {
    const { store } = await create();
    const a1 = authorizer(A1, "refresh-1");
    await store.saveAuthorizer(C1, a1);
    // Wrong expected token: false, nothing changed.
    expect(await store.updateAuthorizer(C1, A1, "refresh-stale", { refreshToken: "refresh-x", status: "needs_reauthorization", updatedAt: T0 + 1 })).toBe(false);
    expect(await store.authorizer(C1, A1)).toEqual(a1);
    // Unknown authorizer or component: false, nothing created.
    expect(await store.updateAuthorizer(C1, A2, "refresh-1", { refreshToken: "refresh-x", updatedAt: T0 + 1 })).toBe(false);
    expect(await store.updateAuthorizer(C2, A1, "refresh-1", { refreshToken: "refresh-x", updatedAt: T0 + 1 })).toBe(false);
    expect(await store.authorizer(C1, A2)).toBeUndefined();
    expect(await store.authorizer(C2, A1)).toBeUndefined();
    // Right: the refresh token rotates (status kept).
    expect(await store.updateAuthorizer(C1, A1, "refresh-1", { refreshToken: "refresh-2", updatedAt: T0 + 2 })).toBe(true);
    expect(await store.authorizer(C1, A1)).toEqual({ ...a1, refreshToken: "refresh-2", updatedAt: T0 + 2 });
    // The old token no longer matches.
    expect(await store.updateAuthorizer(C1, A1, "refresh-1", { status: "needs_reauthorization", updatedAt: T0 + 3 })).toBe(false);
    // A status change alone keeps the token.
    expect(await store.updateAuthorizer(C1, A1, "refresh-2", { status: "needs_reauthorization", updatedAt: T0 + 4 })).toBe(true);
    expect(await store.authorizer(C1, A1)).toEqual({ ...a1, refreshToken: "refresh-2", status: "needs_reauthorization", updatedAt: T0 + 4 });
    expect(await store.authorizers(C1)).toEqual(new Map([[A1, { ...a1, refreshToken: "refresh-2", status: "needs_reauthorization", updatedAt: T0 + 4 }]]));
  });

  it("concurrent updates with the same expected token: exactly one wins", async () => {
    const { store } = await create();
    await store.saveAuthorizer(C1, authorizer(A1, "refresh-1"));
    const results = await Promise.all(["refresh-a", "refresh-b", "refresh-c"].map((r) => store.updateAuthorizer(C1, A1, "refresh-1", { refreshToken: r, updatedAt: T0 + 1 })));
    expect(results.filter(Boolean)).toHaveLength(1);
    const winner = ["refresh-a", "refresh-b", "refresh-c"][results.indexOf(true)];
    expect((await store.authorizer(C1, A1))!.refreshToken).toBe(winner);
  });

  it("repairFutureTimes brings push times after notAfter back to now, tells the listeners, and finds nothing the second time", async () => {
    const { store, listening } = await create();
    await listening();
    const Y2100 = Date.UTC(2100, 0, 1);
    const [A3, A4] = ["wxauthorizerstor03", "wxauthorizerstor04"];
    const notAfter = T0 + 300_000;
    expect(await store.saveTicket(C1, ticketAt(Y2100, "ticket-forged"))).toBe(true);
    expect(await store.saveTicket(C2, ticketAt(Y2100, "ticket-of-c2"))).toBe(true);
    await store.saveAuthorizer(C1, authorizer(A1, "refresh-a1", Y2100));
    // Within the window: left alone.
    await store.saveAuthorizer(C1, authorizer(A2, "refresh-a2", notAfter));
    await store.removeAuthorizer(C1, A3, Y2100, []);
    await store.removeAuthorizer(C1, A4, notAfter, []);
    const all: PlatformChange[] = [];
    const stop = store.onPlatformChange((c) => all.push(c));
    expect(await store.repairFutureTimes(C1, notAfter, T0)).toEqual({ ticket: true, authorized: [A1], deauthorized: [A3] });
    expect((await store.ticket(C1))!).toEqual({ ...ticketAt(Y2100, "ticket-forged"), createdAt: T0 });
    expect(await store.authorizer(C1, A1)).toEqual({ ...authorizer(A1, "refresh-a1"), authorizedAt: T0, updatedAt: T0 });
    expect(await store.authorizer(C1, A2)).toEqual(authorizer(A2, "refresh-a2", notAfter));
    // Another component's records are its own platform's to repair.
    expect((await store.ticket(C2))!.createdAt).toBe(Y2100);
    // The de-authorization now dates from T0: an authorization after it is taken, one at or before it still refused.
    expect(await store.saveAuthorizer(C1, authorizer(A3, "refresh-a3", T0))).toBe(false);
    expect(await store.saveAuthorizer(C1, authorizer(A3, "refresh-a3", T0 + 1000))).toBe(true);
    expect(await store.saveAuthorizer(C1, authorizer(A4, "refresh-a4", notAfter))).toBe(false);
    // A real ticket pushed after the repair replaces the forged one.
    expect(await store.saveTicket(C1, ticketAt(T0 + 1000, "ticket-real"))).toBe(true);
    expect(await store.repairFutureTimes(C1, notAfter, T0)).toEqual({ ticket: false, authorized: [], deauthorized: [] });
    await eventually(() => expect(all.filter((c) => c.what === "all" && c.component === C1).length).toBeGreaterThanOrEqual(1));
    stop();
  });

  it("removeAuthorizer: removed when it was held, then not_held", async () => {
    const { store } = await create();
    await store.saveAuthorizer(C1, authorizer(A1, "refresh-a1"));
    await store.saveAuthorizer(C1, authorizer(A2, "refresh-a2"));
    expect(await store.removeAuthorizer(C2, A1, T0 + 1000, [])).toBe("not_held");
    expect(await store.removeAuthorizer(C1, A1, T0 + 1000, [])).toBe("removed");
    expect(await store.authorizer(C1, A1)).toBeUndefined();
    expect([...(await store.authorizers(C1)).keys()]).toEqual([A2]);
    expect(await store.removeAuthorizer(C1, A1, T0 + 1000, [])).toBe("not_held");
    expect(await store.updateAuthorizer(C1, A1, "refresh-a1", { refreshToken: "x", updatedAt: T0 })).toBe(false);
    expect(await store.authorizer(C1, A1)).toBeUndefined();
  });

  it("tells listeners of every change, and of nothing refused; an unsubscribed listener hears no more", async () => {
    const { store, listening } = await create();
    const first = record(store);
    const second = record(store);
    await listening();
    await store.saveTicket(C1, ticketAt(T0 + 10, "ticket-1"));
    await store.saveTicket(C1, ticketAt(T0, "ticket-older")); // refused: no change
    await store.saveAuthorizer(C1, authorizer(A1, "refresh-1"));
    await store.updateAuthorizer(C1, A1, "wrong", { refreshToken: "x", updatedAt: T0 }); // refused
    await store.updateAuthorizer(C1, A1, "refresh-1", { refreshToken: "refresh-2", updatedAt: T0 + 1 });
    await store.removeAuthorizer(C1, A2, T0 + 5, []); // not held: the de-authorization is remembered all the same
    await store.removeAuthorizer(C1, A1, T0 + 5, []);
    await store.saveAuthorizer(C1, authorizer(A1, "refresh-late", T0 + 1)); // refused: older than the de-authorization
    await store.saveTicket(C2, ticketAt(T0, "ticket-c2"));
    const expected: PlatformChange[] = [
      { component: C1, what: "ticket" },
      { component: C1, what: "authorizer", appId: A1 },
      { component: C1, what: "authorizer", appId: A1 },
      { component: C1, what: "authorizer", appId: A2 },
      { component: C1, what: "authorizer", appId: A1 },
      { component: C2, what: "ticket" },
    ];
    // The last change arrived, so all before it did: the refused ones told nobody.
    await eventually(() => expect(first.changes).toEqual(expected));
    expect(second.changes).toEqual(expected);

    first.stop();
    await store.saveAuthorizer(C2, authorizer(A2, "refresh-c2"));
    await eventually(() => expect(second.changes).toHaveLength(expected.length + 1));
    expect(second.changes.at(-1)).toEqual({ component: C2, what: "authorizer", appId: A2 });
    expect(first.changes).toEqual(expected);
  });

  it("an authorization older than a de-authorization, or than the held authorization, is refused; a later one is stored", async () => {
    const { store } = await create();
    expect(await store.saveAuthorizer(C1, authorizer(A1, "refresh-1", T0 + 10_000))).toBe(true);
    // A late retry of an older authorization push does not replace the newer one.
    expect(await store.saveAuthorizer(C1, authorizer(A1, "refresh-older", T0 + 5_000))).toBe(false);
    expect((await store.authorizer(C1, A1))!.refreshToken).toBe("refresh-1");
    // The same authorization again (WeChat retried the push) is taken.
    expect(await store.saveAuthorizer(C1, { ...authorizer(A1, "refresh-1b", T0 + 10_000), updatedAt: T0 + 11_000 })).toBe(true);

    expect(await store.removeAuthorizer(C1, A1, T0 + 20_000, [])).toBe("removed");
    // An authorization push created before the de-authorization, arriving after it: refused.
    expect(await store.saveAuthorizer(C1, authorizer(A1, "refresh-revoked", T0 + 15_000))).toBe(false);
    expect(await store.authorizer(C1, A1)).toBeUndefined();
    // A de-authorization of an account never held is remembered too.
    expect(await store.removeAuthorizer(C1, A2, T0 + 20_000, [])).toBe("not_held");
    expect(await store.saveAuthorizer(C1, authorizer(A2, "refresh-a2", T0 + 19_000))).toBe(false);
    // The account authorizes again, later: stored, and an older de-authorization no longer removes it.
    expect(await store.saveAuthorizer(C1, authorizer(A1, "refresh-2", T0 + 30_000))).toBe(true);
    expect(await store.removeAuthorizer(C1, A1, T0 + 25_000, [])).toBe("newer_held");
    expect((await store.authorizer(C1, A1))!.refreshToken).toBe("refresh-2");
    // The same second as the authorization (CreateTime has seconds only): the de-authorization wins, both ways.
    expect(await store.removeAuthorizer(C1, A1, T0 + 30_000, [])).toBe("removed");
    expect(await store.saveAuthorizer(C1, authorizer(A1, "refresh-same-second", T0 + 30_000))).toBe(false);
    expect(await store.authorizer(C1, A1)).toBeUndefined();
  });

  it("a de-authorization drops the account's stored tokens with it, and only its own; one refused as older drops nothing", async () => {
    const { store } = await create();
    const tokens = store;
    const token = (key: string, value: string) => ({ key, value, version: 1, obtainedAt: T0, expiresAt: T0 + 7200_000 });
    tokens.save(token(A1, "access-a1"));
    tokens.save(token(`${A1}#jsapi_ticket`, "ticket-a1"));
    tokens.save(token(A2, "access-a2"));
    await tokens.flush();
    await store.saveAuthorizer(C1, authorizer(A1, "refresh-1", T0 + 10_000));
    await store.saveAuthorizer(C1, authorizer(A2, "refresh-2", T0 + 10_000));

    expect(await store.removeAuthorizer(C1, A1, T0 + 5_000, [A1, `${A1}#jsapi_ticket`])).toBe("newer_held");
    expect([...(await tokens.load()).keys()].sort()).toEqual([A1, `${A1}#jsapi_ticket`, A2].sort());
    expect(await store.removeAuthorizer(C1, A1, T0 + 20_000, [A1, `${A1}#jsapi_ticket`])).toBe("removed");
    expect([...(await tokens.load()).keys()]).toEqual([A2]);
  });
});

describe("FileStore", () => {
  it("keeps tickets and authorizers across a restart (a new store on the same file), removals and updates included", async () => {
    const path = join(tempDir(), "tokens.json");
    const before = new FileStore(path);
    await before.saveTicket(C1, ticketAt(T0, "ticket-c1"));
    await before.saveTicket(C2, ticketAt(T0 + 5, "ticket-c2"));
    await before.saveAuthorizer(C1, authorizer(A1, "refresh-1"));
    await before.saveAuthorizer(C1, authorizer(A2, "refresh-a2"));
    await before.updateAuthorizer(C1, A1, "refresh-1", { refreshToken: "refresh-2", status: "needs_reauthorization", updatedAt: T0 + 9 });
    await before.removeAuthorizer(C1, A2, T0 + 1000, []);
    before.save({ key: "wxapp", value: "access-token", version: 3, obtainedAt: T0, expiresAt: T0 + 7200_000 });
    await before.close();

    const after = new FileStore(path);
    expect((await after.load()).get("wxapp")?.value).toBe("access-token");
    expect(await after.ticket(C1)).toEqual(ticketAt(T0, "ticket-c1"));
    expect(await after.ticket(C2)).toEqual(ticketAt(T0 + 5, "ticket-c2"));
    expect(await after.authorizers(C1)).toEqual(
      new Map([[A1, { ...authorizer(A1, "refresh-2"), status: "needs_reauthorization", updatedAt: T0 + 9 }]]),
    );
    // The rules hold after the restart too: an older ticket is still refused.
    expect(await after.saveTicket(C1, ticketAt(T0 - 1, "ticket-older"))).toBe(false);
  });

  it("reads platform data without load() being called first", async () => {
    const path = join(tempDir(), "tokens.json");
    const before = new FileStore(path);
    await before.saveTicket(C1, ticketAt(T0, "ticket-c1"));
    // A second store whose first call is a platform read.
    expect(await new FileStore(path).ticket(C1)).toEqual(ticketAt(T0, "ticket-c1"));
    // A second store whose first call is a platform write keeps what the file held.
    const writer = new FileStore(path);
    await writer.saveAuthorizer(C1, authorizer(A1, "refresh-1"));
    expect(await new FileStore(path).ticket(C1)).toEqual(ticketAt(T0, "ticket-c1"));
  });

  it("writes a 0600 snapshot holding platforms: each component's ticket and authorizers", async () => {
    const path = join(tempDir(), "tokens.json");
    const store = new FileStore(path);
    await store.saveTicket(C1, ticketAt(T0, "ticket-c1"));
    await store.saveAuthorizer(C1, authorizer(A1, "refresh-1"));
    await store.saveAuthorizer(C2, authorizer(A2, "refresh-c2"));
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const data = JSON.parse(readFileSync(path, "utf8")) as { format: number; tokens: object; platforms: Record<string, { ticket?: StoredTicket; authorizers: Record<string, StoredAuthorizer> }> };
    expect(data.format).toBe(1);
    expect(data.tokens).toEqual({});
    expect(data.platforms).toEqual({
      [C1]: { ticket: ticketAt(T0, "ticket-c1"), authorizers: { [A1]: authorizer(A1, "refresh-1") } },
      [C2]: { authorizers: { [A2]: authorizer(A2, "refresh-c2") } },
    });
  });

  it("loads an older snapshot without platforms: its tokens are kept, and platform data is added beside them", async () => {
    const path = join(tempDir(), "tokens.json");
    const token = { key: "wxapp", value: "old-access-token", version: 7, obtainedAt: T0, expiresAt: T0 + 7200_000 };
    writeFileSync(path, JSON.stringify({ format: 1, tokens: { wxapp: token }, quota: {} }), { mode: 0o644 });
    const store = new FileStore(path);
    expect(await store.load()).toEqual(new Map([["wxapp", token]]));
    expect(await store.ticket(C1)).toBeUndefined();
    expect((await store.authorizers(C1)).size).toBe(0);
    expect(await store.saveTicket(C1, ticketAt(T0, "ticket-c1"))).toBe(true);
    const data = JSON.parse(readFileSync(path, "utf8")) as { tokens: Record<string, unknown>; platforms: Record<string, unknown> };
    expect(data.tokens).toEqual({ wxapp: token });
    expect(data.platforms).toEqual({ [C1]: { ticket: ticketAt(T0, "ticket-c1"), authorizers: {} } });
    // Tightened on load, and the new snapshot is 0600 too.
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it("rejects saveTicket (and tells no listener) when the snapshot cannot be written; works again once it can", async () => {
    const dir = tempDir();
    const parent = join(dir, "state");
    const path = join(parent, "tokens.json");
    const logs = new LogCapture();
    const store = new FileStore(path, createLogger({ level: "debug", destination: logs }));
    await store.load(); // nothing there yet: an empty start (the load made the directory, and found it writable)
    // The snapshot's parent is now a regular file: mkdir fails (permissions would not stop root).
    rmSync(parent, { recursive: true });
    writeFileSync(parent, "not a directory");
    const heard = record(store);
    await expect(store.saveTicket(C1, ticketAt(T0, "ticket-c1"))).rejects.toThrow(/could not write/);
    await expect(store.saveAuthorizer(C1, authorizer(A1, "refresh-1"))).rejects.toThrow(/could not write/);
    expect(heard.changes).toEqual([]);
    expect(logs.text()).toContain("could not write token snapshot");
    expect(logs.text()).not.toContain("refresh-1");

    rmSync(parent);
    mkdirSync(parent);
    expect(await store.saveTicket(C1, ticketAt(T0 + 1, "ticket-c1-again"))).toBe(true);
    expect(heard.changes).toEqual([{ component: C1, what: "ticket" }]);
    expect(await new FileStore(path).ticket(C1)).toEqual(ticketAt(T0 + 1, "ticket-c1-again"));
  });

  // A change whose write failed is taken back: the caller's retry (Platform.saveRotation
  // retries with the same expected token) must find the old value and store the new one.
  it("a rejected updateAuthorizer stored nothing: the same compare-and-set, retried once the disk is back, succeeds and is durable", async () => {
    const dir = tempDir();
    const parent = join(dir, "state");
    const path = join(parent, "tokens.json");
    const store = new FileStore(path);
    await store.saveAuthorizer(C1, authorizer(A1, "refresh-1"));
    rmSync(parent, { recursive: true });
    writeFileSync(parent, "not a directory");
    await expect(store.updateAuthorizer(C1, A1, "refresh-1", { refreshToken: "refresh-2", updatedAt: T0 + 1 })).rejects.toThrow(/could not write/);

    rmSync(parent);
    mkdirSync(parent);
    expect(await store.updateAuthorizer(C1, A1, "refresh-1", { refreshToken: "refresh-2", updatedAt: T0 + 1 })).toBe(true);
    expect((await new FileStore(path).authorizer(C1, A1))?.refreshToken).toBe("refresh-2");
  });

  // Changes run one at a time, so a failed write takes back exactly its own change,
  // even when another change to the same account was asked for meanwhile.
  it("two changes to one account while the disk fails: both rejected or refused, the held value is what was durable", async () => {
    const dir = tempDir();
    const parent = join(dir, "state");
    const path = join(parent, "tokens.json");
    const store = new FileStore(path, undefined, 3_600_000);
    await store.saveAuthorizer(C1, authorizer(A1, "refresh-0"));
    rmSync(parent, { recursive: true });
    writeFileSync(parent, "not a directory");
    const [update, replace] = await Promise.allSettled([
      store.updateAuthorizer(C1, A1, "refresh-0", { refreshToken: "refresh-1", updatedAt: T0 + 1 }),
      store.saveAuthorizer(C1, authorizer(A1, "refresh-2", T0 + 2)),
    ]);
    expect(update.status).toBe("rejected");
    expect(replace.status).toBe("rejected");
    expect((await store.authorizer(C1, A1))!.refreshToken).toBe("refresh-0");

    rmSync(parent);
    mkdirSync(parent);
    expect(await store.updateAuthorizer(C1, A1, "refresh-0", { refreshToken: "refresh-1", updatedAt: T0 + 1 })).toBe(true);
    expect((await new FileStore(path).authorizer(C1, A1))!.refreshToken).toBe("refresh-1");
  });

  it("a failed write is tried again by itself: tokens saved while the disk failed reach the snapshot once it is back", async () => {
    const dir = tempDir();
    const parent = join(dir, "state");
    const path = join(parent, "tokens.json");
    const logs = new LogCapture();
    const store = new FileStore(path, createLogger({ level: "debug", destination: logs }), 20);
    cleanups.push(() => store.close());
    await store.load();
    rmSync(parent, { recursive: true });
    writeFileSync(parent, "not a directory");
    store.save({ key: "wxapp", value: "access-1", version: 1, obtainedAt: T0, expiresAt: T0 + 7200_000 });
    await eventually(() => expect(logs.text().split("could not write token snapshot").length).toBeGreaterThanOrEqual(3));
    rmSync(parent);
    mkdirSync(parent);
    // No further save: the retry alone writes it.
    await eventually(async () => expect((await new FileStore(path).load()).get("wxapp")?.value).toBe("access-1"));
  });
});

describe("RedisStore", () => {
  function prefixed(): string {
    const prefix = uniquePrefix();
    cleanups.push(() => dropPrefix(SHARED_REDIS_URL, prefix));
    return prefix;
  }

  it("keeps tickets and authorizers across a restart (a new store on the same prefix)", async () => {
    const prefix = prefixed();
    const before = await redisStore(prefix);
    await before.saveTicket(C1, ticketAt(T0, "ticket-c1"));
    await before.saveAuthorizer(C1, authorizer(A1, "refresh-1"));
    await before.saveAuthorizer(C1, authorizer(A2, "refresh-a2"));
    await before.updateAuthorizer(C1, A1, "refresh-1", { refreshToken: "refresh-2", updatedAt: T0 + 9 });
    await before.removeAuthorizer(C1, A2, T0 + 1000, []);
    await before.close();

    const after = await redisStore(prefix);
    expect(await after.ticket(C1)).toEqual(ticketAt(T0, "ticket-c1"));
    expect(await after.ticket(C2)).toBeUndefined();
    expect(await after.authorizers(C1)).toEqual(new Map([[A1, { ...authorizer(A1, "refresh-2"), updatedAt: T0 + 9 }]]));
    expect(await after.saveTicket(C1, ticketAt(T0 - 1, "ticket-older"))).toBe(false);
  });

  it("never expires the authorizers hash (PTTL -1, after updates too); the ticket key lives its 12 hours plus one", async () => {
    const prefix = prefixed();
    const store = await redisStore(prefix);
    const r = await plainRedis();
    await store.saveAuthorizer(C1, authorizer(A1, "refresh-1"));
    await store.updateAuthorizer(C1, A1, "refresh-1", { refreshToken: "refresh-2", updatedAt: T0 + 1 });
    expect(await r.pttl(`${prefix}platform:${C1}:authorizers`)).toBe(-1);
    await store.saveTicket(C1, ticketAt(T0, "ticket-c1"));
    const ttl = await r.pttl(`${prefix}platform:${C1}:ticket`);
    expect(ttl).toBeGreaterThan(TICKET_LIFE_MS + 3600_000 - 60_000);
    expect(ttl).toBeLessThanOrEqual(TICKET_LIFE_MS + 3600_000);
    // The TTL is relative to the receipt, not to an absolute time (a 2026 clock would otherwise be years).
    expect(await r.pttl(`${prefix}platform:${C1}:authorizers`)).toBe(-1);
  });

  it("a change through one RedisStore reaches a second one's listener on the same prefix (and not one on another prefix)", async () => {
    const prefix = prefixed();
    const one = await redisStore(prefix);
    const two = await redisStore(prefix);
    const elsewhere = await redisStore(prefixed());
    const heard = record(two);
    const heardElsewhere = record(elsewhere);
    await subscribed(prefix, 2);

    await one.saveTicket(C1, ticketAt(T0, "ticket-c1"));
    await one.saveAuthorizer(C1, authorizer(A1, "refresh-1"));
    await one.updateAuthorizer(C1, A1, "refresh-1", { refreshToken: "refresh-2", updatedAt: T0 + 1 });
    await one.removeAuthorizer(C1, A1, T0 + 1000, []);
    await eventually(() =>
      expect(heard.changes).toEqual([
        { component: C1, what: "ticket" },
        { component: C1, what: "authorizer", appId: A1 },
        { component: C1, what: "authorizer", appId: A1 },
        { component: C1, what: "authorizer", appId: A1 },
      ]),
    );
    // What the listener reloads is there to read from the second store.
    expect(await two.ticket(C1)).toEqual(ticketAt(T0, "ticket-c1"));
    expect(heardElsewhere.changes).toEqual([]);
  });

  it("concurrent updateAuthorizer from two instances with the same expected token: exactly one wins, every time", async () => {
    const prefix = prefixed();
    const one = await redisStore(prefix);
    const two = await redisStore(prefix);
    for (let round = 0; round < 20; round++) {
      const expected = `refresh-${round}`;
      await one.saveAuthorizer(C1, authorizer(A1, expected));
      const [a, b] = await Promise.all([
        one.updateAuthorizer(C1, A1, expected, { refreshToken: `from-one-${round}`, updatedAt: T0 + round }),
        two.updateAuthorizer(C1, A1, expected, { refreshToken: `from-two-${round}`, updatedAt: T0 + round }),
      ]);
      expect([a, b].filter(Boolean)).toHaveLength(1);
      expect((await two.authorizer(C1, A1))!.refreshToken).toBe(a ? `from-one-${round}` : `from-two-${round}`);
    }
  });
});

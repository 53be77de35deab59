/**
 * The batch half of the PlatformStore contract (a sync of N accounts):
 * saveAuthorizers applies saveAuthorizer's rules to each record in one write
 * and tells one "authorizers" change; authorizersOf reads many at once. Run
 * over every store; then, on a Redis of the test's own (its command counts
 * are the test's alone), what a batch and a load cost in commands.
 */
import { Redis } from "ioredis";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { silentLogger } from "../../src/log.js";
import type { StoredAuthorizer } from "../../src/platform/store.js";
import { FileStore } from "../../src/store/file-store.js";
import { RedisStore } from "../../src/store/redis-store.js";
import { eventually, tempDir } from "../support/harness.js";
import { platformStoreKinds, record } from "../support/platform-stores.js";
import { OwnRedis } from "../support/redis.js";

const C1 = "wxcomponentbatch01";
const C2 = "wxcomponentbatch02";
const T0 = Date.UTC(2026, 0, 1);

function authorizer(appId: string, refreshToken: string, at = T0): StoredAuthorizer {
  return { appId, refreshToken, status: "active", authorizedAt: at, updatedAt: at };
}

/** n accounts wxbatch000000..., each with its own refresh token. */
function many(n: number, at = T0): StoredAuthorizer[] {
  return Array.from({ length: n }, (_, i) => authorizer(`wxbatch${String(i).padStart(6, "0")}`, `refresh-${i}`, at));
}

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
const defer = (c: () => unknown) => void cleanups.push(c);

describe.each(platformStoreKinds(defer))("PlatformStore batch contract: $name", ({ create }) => {
  it("saveAuthorizers applies saveAuthorizer's rules to each record, in order, and says which were stored", async () => {
    const { store } = await create();
    await store.saveAuthorizer(C1, authorizer("wxheldnewer", "refresh-held", T0 + 10_000));
    await store.saveAuthorizer(C1, authorizer("wxheldolder", "refresh-old", T0));
    expect(await store.removeAuthorizer(C1, "wxgone", T0 + 10_000, [])).toBe("not_held");
    expect(await store.removeAuthorizer(C1, "wxgoneearlier", T0, [])).toBe("not_held");

    const saved = await store.saveAuthorizers(C1, [
      authorizer("wxnew", "refresh-new", T0 + 5_000),
      authorizer("wxheldnewer", "refresh-late", T0 + 5_000), // older than the held one: refused
      authorizer("wxheldolder", "refresh-newer", T0 + 5_000), // newer: replaces
      authorizer("wxgone", "refresh-revoked", T0 + 10_000), // same time as its de-authorization: refused
      authorizer("wxgoneearlier", "refresh-back", T0 + 5_000), // after its de-authorization: stored
      authorizer("wxtwice", "refresh-first", T0 + 5_000),
      authorizer("wxtwice", "refresh-older", T0 + 1_000), // older than the record before it in the batch: refused
    ]);
    expect(saved).toEqual([true, false, true, false, true, true, false]);
    expect(await store.authorizers(C1)).toEqual(
      new Map([
        ["wxheldnewer", authorizer("wxheldnewer", "refresh-held", T0 + 10_000)],
        ["wxheldolder", authorizer("wxheldolder", "refresh-newer", T0 + 5_000)],
        ["wxnew", authorizer("wxnew", "refresh-new", T0 + 5_000)],
        ["wxgoneearlier", authorizer("wxgoneearlier", "refresh-back", T0 + 5_000)],
        ["wxtwice", authorizer("wxtwice", "refresh-first", T0 + 5_000)],
      ]),
    );
    // A stored authorization cleared its account's de-authorization, as saveAuthorizer does.
    expect(await store.removeAuthorizer(C1, "wxgoneearlier", T0 + 1_000, [])).toBe("newer_held");
    expect(await store.saveAuthorizers(C1, [])).toEqual([]);
    expect((await store.authorizers(C2)).size).toBe(0);
  });

  it("tells one change for the batch, naming the accounts stored; a batch of refusals tells nothing", async () => {
    const { store, listening } = await create();
    const heard = record(store);
    await listening();
    await store.saveAuthorizer(C1, authorizer("wxheld", "refresh-held", T0 + 10_000));
    await store.saveAuthorizers(C1, [authorizer("wxone", "r1"), authorizer("wxheld", "refresh-late"), authorizer("wxtwo", "r2"), authorizer("wxone", "r1b")]);
    await store.saveAuthorizers(C1, [authorizer("wxheld", "refresh-late-again")]);
    await store.saveAuthorizers(C2, [authorizer("wxone", "r1-of-c2")]);
    await eventually(() =>
      expect(heard.changes).toEqual([
        { component: C1, what: "authorizer", appId: "wxheld" },
        { component: C1, what: "authorizers", appIds: ["wxone", "wxtwo"] },
        { component: C2, what: "authorizers", appIds: ["wxone"] },
      ]),
    );
  });

  it("authorizersOf reads the named accounts that are held, of that component only", async () => {
    const { store } = await create();
    await store.saveAuthorizers(C1, many(3));
    await store.saveAuthorizer(C2, authorizer("wxonlyofc2", "refresh-c2"));
    const [a0, , a2] = many(3);
    expect(await store.authorizersOf(C1, [a0!.appId, "wxnotheld", a2!.appId, "wxonlyofc2", a0!.appId])).toEqual(
      new Map([
        [a0!.appId, a0],
        [a2!.appId, a2],
      ]),
    );
    expect(await store.authorizersOf(C1, [])).toEqual(new Map());
    // What was read is a copy.
    (await store.authorizersOf(C1, [a0!.appId])).get(a0!.appId)!.refreshToken = "mutated";
    expect((await store.authorizer(C1, a0!.appId))!.refreshToken).toBe(a0!.refreshToken);
  });

  it("2,500 accounts in one batch (several Redis chunks) are all stored and read back, by authorizers() and authorizersOf", async () => {
    const { store } = await create();
    const records = many(2_500);
    expect(await store.saveAuthorizers(C1, records)).toEqual(records.map(() => true));
    const all = await store.authorizers(C1);
    expect(all.size).toBe(2_500);
    expect(all).toEqual(new Map(records.map((a) => [a.appId, a])));
    const some = await store.authorizersOf(C1, records.filter((_, i) => i % 2 === 1).map((a) => a.appId));
    expect(some.size).toBe(1_250);
    expect(some.get(records[2_499]!.appId)).toEqual(records[2_499]);
    // The same batch again (WeChat's list read twice) is taken again; an older one is refused whole.
    expect((await store.saveAuthorizers(C1, records)).every(Boolean)).toBe(true);
    expect((await store.saveAuthorizers(C1, many(2_500, T0 - 1))).some(Boolean)).toBe(false);
  });
});

describe("FileStore: saveAuthorizers", () => {
  it("a batch whose snapshot cannot be written is rejected and taken back whole: accounts saved twice and cleared de-authorizations included", async () => {
    const parent = join(tempDir(), "state");
    const store = new FileStore(join(parent, "tokens.json"), undefined, 3_600_000);
    defer(() => store.close());
    await store.saveAuthorizer(C1, authorizer("wxheld", "refresh-0"));
    expect(await store.removeAuthorizer(C1, "wxgone", T0, [])).toBe("not_held");
    rmSync(parent, { recursive: true });
    writeFileSync(parent, "not a directory");
    const heard = record(store);
    await expect(
      store.saveAuthorizers(C1, [
        authorizer("wxheld", "refresh-1", T0 + 1),
        authorizer("wxheld", "refresh-2", T0 + 2),
        authorizer("wxgone", "refresh-back", T0 + 1),
        authorizer("wxnew", "refresh-new"),
      ]),
    ).rejects.toThrow(/could not write/);
    expect(heard.changes).toEqual([]);
    expect(await store.authorizers(C1)).toEqual(new Map([["wxheld", authorizer("wxheld", "refresh-0")]]));
    // The de-authorization is back: an authorization made at its time is still refused.
    rmSync(parent);
    mkdirSync(parent);
    expect(await store.saveAuthorizers(C1, [authorizer("wxgone", "refresh-same-time", T0)])).toEqual([false]);
  });
});

describe("RedisStore: what a batch and a load cost in commands", () => {
  async function ownRedis(): Promise<{ url: string; plain: Redis; calls: () => Promise<Record<string, number>> }> {
    const server = await OwnRedis.start();
    defer(() => server.kill());
    const plain = new Redis(server.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await plain.connect();
    defer(() => plain.disconnect());
    const calls = async () => {
      const out: Record<string, number> = {};
      for (const m of (await plain.info("commandstats")).matchAll(/^cmdstat_([a-z|]+):calls=(\d+)/gm)) out[m[1]!] = Number(m[2]);
      return out;
    };
    return { url: server.url, plain, calls };
  }

  async function storeOn(url: string): Promise<RedisStore> {
    const store = new RedisStore({ url, keyPrefix: "wxtoken:", lockLeaseMs: 5000, log: silentLogger });
    defer(() => store.close());
    await store.load();
    return store;
  }

  it("2,500 authorizations: three scripts (one per chunk of 1,000) and one published note, which a second replica hears whole", async () => {
    const { url, plain, calls } = await ownRedis();
    const one = await storeOn(url);
    const two = await storeOn(url);
    const heard = record(two);
    await eventually(async () => expect(Number(((await plain.call("PUBSUB", "NUMSUB", "wxtoken:platform")) as [string, number])[1])).toBe(2));
    await plain.config("RESETSTAT");

    const records = many(2_500);
    expect((await one.saveAuthorizers(C1, records)).every(Boolean)).toBe(true);
    const counted = await calls();
    expect(counted.eval).toBe(3);
    expect(counted.publish).toBe(1);
    await eventually(() => expect(heard.changes).toEqual([{ component: C1, what: "authorizers", appIds: records.map((a) => a.appId) }]));
    // What the note names, the other replica reads in one go: three HMGETs, pipelined.
    await plain.config("RESETSTAT");
    expect((await two.authorizersOf(C1, records.map((a) => a.appId))).size).toBe(2_500);
    expect((await calls()).hmget).toBe(3);
  });

  it("load() reads 3,000 tokens and 3,000 quota counts in a few SCANs with MGETs of up to 1,000 keys", async () => {
    const { url, plain, calls } = await ownRedis();
    const token = (i: number) => ({ key: `wxload${i}`, value: `token-${i}`, version: 1, obtainedAt: T0, expiresAt: T0 + 7200_000 });
    const quota = { day: T0, used: 3, forced: 1 };
    const pairs: string[] = [];
    for (let i = 0; i < 3_000; i++) pairs.push(`wxtoken:token:wxload${i}`, JSON.stringify(token(i)), `wxtoken:quota:wxload${i}`, JSON.stringify(quota));
    await plain.mset(...pairs);
    await plain.config("RESETSTAT");

    const store = new RedisStore({ url, keyPrefix: "wxtoken:", lockLeaseMs: 5000, log: silentLogger });
    defer(() => store.close());
    const tokens = await store.load();
    expect(tokens.size).toBe(3_000);
    expect(tokens.get("wxload2999")).toEqual(token(2_999));
    expect(store.quota("wxload1234")).toEqual(quota);
    const counted = await calls();
    // SCAN COUNT 10,000 over 6,000 keys: a page or two per kind (COUNT 500 took a dozen or more).
    expect(counted.scan).toBeLessThanOrEqual(4);
    // MGETs of up to 1,000 keys: at least 3 per kind, one more per extra SCAN page.
    expect(counted.mget).toBeGreaterThanOrEqual(6);
    expect(counted.mget).toBeLessThanOrEqual(6 + counted.scan!);
  });
});

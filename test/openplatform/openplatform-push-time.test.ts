/**
 * A push time from the future must not break a platform for good. Stores
 * order pushes by CreateTime, so a correctly signed push dated 2100 (the
 * message Token and EncodingAESKey are shared with the business servers'
 * message URL) would make every real push after it "older": the ticket never
 * replaced (no component token once it expires), an account never served
 * again. The receiver refuses such a push; a record stored before that (or by
 * an older version) is brought back to now when the platform loads. The real
 * server, the fake WeChat pushing signed pushes over real HTTP, each store
 * (memory, file, SQLite, Redis).
 */
import { status } from "@grpc/grpc-js";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { FakeClock } from "../../src/clock.js";
import type { TokenStore } from "../../src/core/store.js";
import { FakeWeChat } from "../../src/fake-wechat/index.js";
import { silentLogger } from "../../src/log.js";
import type { PlatformStore } from "../../src/platform/store.js";
import { FileStore } from "../../src/store/file-store.js";
import { MemoryStore } from "../../src/store/memory-store.js";
import { RedisStore } from "../../src/store/redis-store.js";
import { SqliteStore } from "../../src/store/sqlite-store.js";
import { eventually, grpcError, tempDir } from "../support/harness.js";
import { AUTH1, AUTH2, COMPONENT, componentOptions, componentTokenReady, PlatformHarness, type PlatformOptions, until } from "../support/platform.js";
import { dropPrefix, SHARED_REDIS_URL, uniquePrefix } from "../support/redis.js";

/** 2100-01-01 in seconds, as CreateTime carries it. */
const YEAR_2100 = Date.UTC(2100, 0, 1) / 1000;
const SKEW_SECONDS = 300;
const REPAIR_LINE = "stored push times in the future";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function start(o: PlatformOptions = {}): Promise<PlatformHarness> {
  const p = await PlatformHarness.start(o);
  cleanups.push(() => p.stop());
  return p;
}

/** A platform with its component token. */
async function ready(o: PlatformOptions = {}): Promise<PlatformHarness> {
  return componentTokenReady(await start(o));
}

const nowSeconds = (p: PlatformHarness) => Math.floor(p.clock.now() / 1000);

/** Until the account is served a token WeChat accepts. */
function served(p: PlatformHarness, appId: string): Promise<void> {
  return until(p, async () => expect(p.fake.component.isAuthorizerTokenValid(appId, (await p.h.getToken(appId, 300)).token!.accessToken)).toBe(true), 1000);
}

describe("the receiver bounds CreateTime to the clock-skew window", () => {
  it("component_verify_ticket: a signed push dated 2100 is refused; the real ones after it are stored, and the component token renews", async () => {
    const store = new MemoryStore();
    const p = await ready({ store });
    const forged = await p.fake.component.send({ AppId: COMPONENT, CreateTime: YEAR_2100, InfoType: "component_verify_ticket", ComponentVerifyTicket: "ticket@@@forged-2100" });
    expect(forged).toMatchObject({ status: 403, body: "create time ahead" });
    expect((await store.ticket(COMPONENT))!.createdAt).toBeLessThanOrEqual(p.clock.now());
    expect(p.h.logs.text()).toContain("CreateTime is");

    // WeChat's next push is stored, and the component token renews with it (past the first ticket's 12 hours).
    await p.clock.advance(600_000);
    expect(await p.fake.component.pushTicket()).toMatchObject({ status: 200, body: "success" });
    expect((await store.ticket(COMPONENT))!.value).toBe(p.fake.component.currentTicket());
    const first = (await p.h.getToken(COMPONENT)).token!;
    const calls = p.calls("api_component_token");
    await p.clock.advanceTo(first.expiresAt!.getTime());
    await until(p, async () => {
      const t = (await p.h.getToken(COMPONENT, 300)).token!;
      expect(t.version).toBeGreaterThan(first.version);
      expect(p.fake.component.isComponentTokenValid(t.accessToken)).toBe(true);
    }, 1000);
    expect(p.calls("api_component_token")).toBeGreaterThan(calls);
  });

  it("the bound is maxClockSkewSeconds: a CreateTime that far ahead is taken, one second more is refused", async () => {
    const store = new MemoryStore();
    const p = await ready({ store });
    const ticket = (value: string, ahead: number) =>
      p.fake.component.send({ AppId: COMPONENT, CreateTime: nowSeconds(p) + ahead, InfoType: "component_verify_ticket", ComponentVerifyTicket: value });
    expect(await ticket("ticket@@@one-second-too-far", SKEW_SECONDS + 1)).toMatchObject({ status: 403 });
    expect(await ticket("ticket@@@at-the-limit", SKEW_SECONDS)).toMatchObject({ status: 200, body: "success" });
    expect((await store.ticket(COMPONENT))!.value).toBe("ticket@@@at-the-limit");
  });

  it("unauthorized: a signed de-authorization dated 2100 is refused; the account stays served, and its real de-authorization and return still work", async () => {
    const p = await ready();
    await p.fake.component.authorize(AUTH1);
    await served(p, AUTH1);
    const forged = await p.fake.component.send({ AppId: COMPONENT, CreateTime: YEAR_2100, InfoType: "unauthorized", AuthorizerAppid: AUTH1 });
    expect(forged).toMatchObject({ status: 403, body: "create time ahead" });
    await served(p, AUTH1);
    expect((await p.list()).authorizers.map((a) => a.appId)).toEqual([AUTH1]);

    await p.clock.advance(60_000);
    expect(await p.fake.component.deauthorize(AUTH1)).toMatchObject({ status: 200, body: "success" });
    expect((await grpcError(p.h.getToken(AUTH1, 300))).code).toBe(status.NOT_FOUND);
    await p.clock.advance(60_000);
    expect(await p.fake.component.authorize(AUTH1)).toMatchObject({ status: 200, body: "success" });
    await served(p, AUTH1);
  });
});

interface Seeded {
  /** The store for each run of the server (the same data: a restart). */
  open(): Promise<TokenStore & PlatformStore>;
  /** Where the config points, for the file store. */
  storePath?: string;
  /** Whether a year-2100 time is still stored anywhere. */
  stillPoisoned(): Promise<boolean>;
}

const Y2100_MS = YEAR_2100 * 1000;

/** Writes, through the store's own API, what a forged push stored before the receiver refused them. */
async function poison(store: PlatformStore, fake: FakeWeChat, now: number): Promise<void> {
  expect(await store.saveTicket(COMPONENT, { value: "ticket@@@forged-2100", createdAt: Y2100_MS, receivedAt: now, expiresAt: now + 12 * 3600_000 })).toBe(true);
  // AUTH1's de-authorization, dated 2100 (it is still authorized at WeChat).
  await store.removeAuthorizer(COMPONENT, AUTH1, Y2100_MS, []);
  // AUTH2's authorization, dated 2100, with its real refresh token.
  const refreshToken = fake.component.refreshTokenOf(AUTH2)!;
  expect(await store.saveAuthorizer(COMPONENT, { appId: AUTH2, refreshToken, status: "active", authorizedAt: Y2100_MS, updatedAt: now })).toBe(true);
}

const seededStores: { name: string; seed(fake: FakeWeChat, now: number): Promise<Seeded> }[] = [
  {
    name: "memory",
    seed: async (fake, now) => {
      const store = new MemoryStore();
      await poison(store, fake, now);
      const held = async () => (await store.ticket(COMPONENT))!.createdAt >= Y2100_MS;
      return { open: async () => store, stillPoisoned: held };
    },
  },
  {
    name: "file",
    seed: async (fake, now) => {
      const storePath = join(tempDir(), "tokens.json");
      const seeding = new FileStore(storePath);
      await poison(seeding, fake, now);
      await seeding.close();
      return {
        storePath,
        open: async () => new FileStore(storePath),
        stillPoisoned: async () => readFileSync(storePath, "utf8").includes(String(Y2100_MS)),
      };
    },
  },
  {
    name: "sqlite",
    seed: async (fake, now) => {
      const path = join(tempDir(), "wxtoken.db");
      const seeding = new SqliteStore({ path });
      await poison(seeding, fake, now);
      await seeding.close();
      const open = async () => new SqliteStore({ path });
      const stillPoisoned = async () => {
        const reader = new SqliteStore({ path });
        try {
          const ticket = (await reader.ticket(COMPONENT))!.createdAt >= Y2100_MS;
          return ticket || [...(await reader.authorizers(COMPONENT)).values()].some((a) => a.authorizedAt >= Y2100_MS);
        } finally {
          await reader.close();
        }
      };
      return { open, stillPoisoned };
    },
  },
  {
    name: "redis",
    seed: async (fake, now) => {
      const prefix = uniquePrefix();
      cleanups.push(() => dropPrefix(SHARED_REDIS_URL, prefix));
      const open = async () => {
        const store = new RedisStore({ url: SHARED_REDIS_URL, keyPrefix: prefix, lockLeaseMs: 5000, log: silentLogger });
        await store.load();
        return store;
      };
      const seeding = await open();
      await poison(seeding, fake, now);
      await seeding.close();
      const reader = await open();
      cleanups.push(() => reader.close());
      const stillPoisoned = async () =>
        (await reader.ticket(COMPONENT))!.createdAt >= Y2100_MS ||
        [...(await reader.authorizers(COMPONENT)).values()].some((a) => a.authorizedAt >= Y2100_MS);
      return { open, stillPoisoned };
    },
  },
];

describe.each(seededStores)("a $name store seeded with year-2100 push times", ({ seed }) => {
  it("is repaired at load (logged once): real pushes are stored again, the component token renews, accounts come and go; it survives a restart", async () => {
    const clock = new FakeClock();
    const fake = new FakeWeChat({ apps: {}, clock, overlapMs: 300_000, component: componentOptions([AUTH1, AUTH2]) });
    await fake.start();
    cleanups.push(() => fake.close());
    const seeded = await seed(fake, clock.now());
    const run = async () => start({ clock, fake, store: seeded.storePath ? undefined : await seeded.open(), storePath: seeded.storePath });

    const p = await run();
    const repairs = () => p.h.logs.lines.filter((l) => l.includes(REPAIR_LINE));
    expect(repairs()).toHaveLength(1);
    expect(JSON.parse(repairs()[0]!)).toMatchObject({ ticket: true, authorizers: [AUTH2], deauthorized: [AUTH1] });
    expect(await seeded.stillPoisoned()).toBe(false);

    // The forged ticket is refused by WeChat (61006); the push it asks for is stored, and the component token follows.
    await until(p, async () => expect(p.fake.component.isComponentTokenValid((await p.h.getToken(COMPONENT, 300)).token!.accessToken)).toBe(true), 1000);
    await served(p, AUTH2);
    // AUTH1 authorizes again: stored and served. AUTH2 de-authorizes: no longer served.
    await clock.advance(60_000);
    expect(await fake.component.authorize(AUTH1)).toMatchObject({ status: 200, body: "success" });
    await served(p, AUTH1);
    expect(await fake.component.deauthorize(AUTH2)).toMatchObject({ status: 200, body: "success" });
    expect((await grpcError(p.h.getToken(AUTH2, 300))).code).toBe(status.NOT_FOUND);
    await p.stop();

    // A restart: nothing left to repair, and what the real pushes stored is still there.
    const again = await run();
    expect(again.h.logs.text()).not.toContain(REPAIR_LINE);
    await served(again, AUTH1);
    expect((await grpcError(again.h.getToken(AUTH2, 300))).code).toBe(status.NOT_FOUND);
    expect((await again.list()).authorizers.map((a) => a.appId)).toEqual([AUTH1]);
    expect(await seeded.stillPoisoned()).toBe(false);
  });
});

/**
 * What an Open Platform must not get wrong when pushes arrive late, twice,
 * out of order, or while the store cannot take a write: no refresh token is
 * lost, no revoked authorization comes back, no old token is served again.
 * The real server, the fake WeChat pushing over real HTTP, a real file store
 * whose directory the test breaks and mends, real Redis.
 */
import { status } from "@grpc/grpc-js";
import { Redis } from "ioredis";
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { AuthorizerStatus } from "../../generated/wxtoken/v1/token_service.js";
import { FakeClock } from "../../src/clock.js";
import { FakeWeChat } from "../../src/fake-wechat/index.js";
import { silentLogger } from "../../src/log.js";
import { applyAuthorizerList } from "../../src/openplatform/sync.js";
import { FileStore } from "../../src/store/file-store.js";
import { MemoryStore } from "../../src/store/memory-store.js";
import { RedisStore } from "../../src/store/redis-store.js";
import { eventually, grpcError, tempDir } from "../support/harness.js";
import { AUTH1, AUTH2, COMPONENT, componentOptions, componentTokenReady, PlatformHarness, type PlatformOptions, until } from "../support/platform.js";
import { dropPrefix, OwnRedis, SHARED_REDIS_URL, uniquePrefix } from "../support/redis.js";

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

/** A file store whose directory the test can take away (mkdir then fails, even for root) and give back. */
function breakableStore(): { storePath: string; broken(): void; mended(): void; snapshot(): FileStore } {
  const parent = join(tempDir(), "state");
  const storePath = join(parent, "tokens.json");
  let moved = 0;
  return {
    storePath,
    broken: () => {
      // Moved aside in one step (a write may be creating its temp file in it right now).
      renameSync(parent, `${parent}.gone-${++moved}`);
      writeFileSync(parent, "not a directory");
    },
    mended: () => {
      rmSync(parent, { force: true });
      mkdirSync(parent);
    },
    /** What a restart would read. */
    snapshot: () => new FileStore(storePath),
  };
}

/** A memory store whose authorizer writes can be held (a store that hangs) and let go. */
class GatedStore extends MemoryStore {
  waiting = 0;
  private gate: Promise<void> | undefined;

  constructor() {
    super();
    const save = this.saveAuthorizer.bind(this);
    this.saveAuthorizer = async (component, authorizer) => {
      if (this.gate) {
        this.waiting++;
        await this.gate;
      }
      return save(component, authorizer);
    };
  }

  /** Holds writes until the returned function is called. */
  hold(): () => void {
    let open!: () => void;
    this.gate = new Promise<void>((resolve) => (open = resolve));
    return () => {
      this.gate = undefined;
      open();
    };
  }
}

describe("a write the store refused", () => {
  it("an exchanged refresh token is kept and served, written once the disk is back; WeChat's retries of the push are not exchanged twice", async () => {
    const disk = breakableStore();
    const p = await ready({ storePath: disk.storePath });
    disk.broken();
    const pushed = await p.fake.component.authorize(AUTH1);
    expect(pushed.status).toBe(503);
    // Served from memory meanwhile: the merchant is not down.
    const t = (await p.h.getToken(AUTH1)).token!;
    expect(p.fake.component.isAuthorizerTokenValid(AUTH1, t.accessToken)).toBe(true);
    // WeChat retries the same push: still not stored, still 503, and no second exchange of the code (WeChat would answer 61009).
    expect((await pushed.resend()).status).toBe(503);
    expect(p.calls("api_query_auth")).toBe(1);

    disk.mended();
    // The platform writes it again by itself, on a timer.
    await until(p, async () => expect((await disk.snapshot().authorizer(COMPONENT, AUTH1))?.refreshToken).toBe(p.fake.component.refreshTokenOf(AUTH1)), 1000);
    // Stored now: WeChat's next retry is answered success (the code, spent, is refused by WeChat; the account is held).
    expect(await pushed.resend()).toMatchObject({ status: 200, body: "success" });
    expect((await p.list()).authorizers.map((a) => [a.appId, a.status])).toEqual([[AUTH1, AuthorizerStatus.AUTHORIZER_STATUS_ACTIVE]]);
  });

  it("a rotated refresh token whose write failed is written again on a timer, not at the next refresh", async () => {
    const disk = breakableStore();
    const p = await ready({ storePath: disk.storePath });
    await p.fake.component.authorize(AUTH1);
    const before = p.fake.component.refreshTokenOf(AUTH1);
    disk.broken();
    p.fake.component.rotateRefreshTokenOnNextRefresh(AUTH1);
    const t = (await p.h.getToken(AUTH1)).token!;
    await p.clock.advanceTo(t.refreshAt!.getTime());
    await until(p, async () => expect((await p.h.getToken(AUTH1)).token!.version).toBeGreaterThan(t.version));
    const rotated = p.fake.component.refreshTokenOf(AUTH1);
    expect(rotated).not.toBe(before);
    await eventually(() => expect(p.h.logs.text()).toContain("could not store the rotated refresh token"));

    disk.mended();
    const next = (await p.h.getToken(AUTH1)).token!;
    await until(p, async () => expect((await disk.snapshot().authorizer(COMPONENT, AUTH1))?.refreshToken).toBe(rotated), 1000);
    // Long before the next refresh.
    expect(p.clock.now()).toBeLessThan(next.refreshAt!.getTime());
    expect(p.h.logs.text()).not.toContain(rotated!);
  });

  it("a refresh token rotated while the authorization's write is still running is written after it", async () => {
    const store = new GatedStore();
    const p = await ready({ store });
    const opened = store.hold();
    const pushed = p.fake.component.authorize(AUTH1);
    await eventually(() => expect(store.waiting).toBe(1));
    const issued = p.fake.component.refreshTokenOf(AUTH1);
    // The write hangs; the token is served, and refreshed: WeChat rotates the refresh token.
    p.fake.component.rotateRefreshTokenOnNextRefresh(AUTH1);
    const t = (await p.h.getToken(AUTH1)).token!;
    await p.clock.advanceTo(t.refreshAt!.getTime());
    await until(p, async () => expect((await p.h.getToken(AUTH1)).token!.version).toBeGreaterThan(t.version));
    const rotated = p.fake.component.refreshTokenOf(AUTH1);
    expect(rotated).not.toBe(issued);
    opened();
    expect(await pushed).toMatchObject({ status: 200, body: "success" });
    await until(p, async () => expect((await store.authorizer(COMPONENT, AUTH1))?.refreshToken).toBe(rotated), 1000);
  });

  it("at shutdown, refresh tokens the store refused are written once more", async () => {
    const disk = breakableStore();
    const p = await ready({ storePath: disk.storePath });
    disk.broken();
    expect((await p.fake.component.authorize(AUTH1)).status).toBe(503);
    expect((await p.fake.component.authorize(AUTH2)).status).toBe(503);
    // Back before the retry timer fires (the clock does not move): shutdown itself writes it.
    disk.mended();
    await p.stop();
    const stored = await disk.snapshot().authorizers(COMPONENT);
    expect([...stored.keys()].sort()).toEqual([AUTH1, AUTH2]);
    expect(stored.get(AUTH1)!.refreshToken).toBe(p.fake.component.refreshTokenOf(AUTH1));
  });

  it("at shutdown with the store still refusing, the accounts whose refresh token is only in memory are logged", async () => {
    const disk = breakableStore();
    const p = await ready({ storePath: disk.storePath });
    disk.broken();
    expect((await p.fake.component.authorize(AUTH1)).status).toBe(503);
    await p.stop();
    const line = p.h.logs.text().split("\n").find((l) => l.includes("stopping with refresh tokens the store did not take"));
    expect(line).toContain(AUTH1);
    expect(p.h.logs.text()).not.toContain(p.fake.component.refreshTokenOf(AUTH1)!);
  });

  it("an authorization code WeChat will not exchange (61009) for an account not held: WeChat's list is read and restores it", async () => {
    const p = await ready();
    // The account authorized; this replica never stored its refresh token (say, another one exchanged the code and lost it).
    p.fake.component.pushUrl = "http://127.0.0.1:9/unreachable";
    await p.fake.component.authorize(AUTH1).catch(() => undefined);
    p.fake.component.pushUrl = p.pushUrl;
    const lists = p.calls("api_get_authorizer_list");
    const res = await p.fake.component.send({
      AppId: COMPONENT,
      CreateTime: Math.floor(p.clock.now() / 1000),
      InfoType: "authorized",
      AuthorizerAppid: AUTH1,
      AuthorizationCode: "queryauthcode@@@already-used",
    });
    expect(res).toMatchObject({ status: 200, body: "success" });
    await until(p, async () => {
      expect(p.calls("api_get_authorizer_list")).toBe(lists + 1);
      expect(p.fake.component.isAuthorizerTokenValid(AUTH1, (await p.h.getToken(AUTH1, 300)).token!.accessToken)).toBe(true);
    });
  });
});

describe("pushes about one account, out of order", () => {
  it("a de-authorization that arrives while the authorization is still being exchanged waits for it, then removes it", async () => {
    const p = await ready();
    p.fake.inject({ path: "/cgi-bin/component/api_query_auth", delayMs: 400 });
    const authorization = p.fake.component.authorize(AUTH1);
    await eventually(() => expect(p.calls("api_query_auth")).toBe(1));
    // Sent as WeChat would after the merchant revoked it, the same second.
    const revoked = await p.fake.component.send({ AppId: COMPONENT, CreateTime: Math.floor(p.clock.now() / 1000), InfoType: "unauthorized", AuthorizerAppid: AUTH1 });
    expect(revoked).toMatchObject({ status: 200, body: "success" });
    expect(await authorization).toMatchObject({ status: 200, body: "success" });
    expect((await grpcError(p.h.getToken(AUTH1, 300))).code).toBe(status.NOT_FOUND);
    expect((await p.list()).authorizers).toEqual([]);
  });

  it("a late de-authorization created before the account's latest authorization changes nothing", async () => {
    const p = await ready();
    const old = Math.floor(p.clock.now() / 1000);
    await p.clock.advance(60_000);
    await p.fake.component.authorize(AUTH1);
    const late = await p.fake.component.send({ AppId: COMPONENT, CreateTime: old, InfoType: "unauthorized", AuthorizerAppid: AUTH1 });
    expect(late).toMatchObject({ status: 200, body: "success" });
    expect(p.fake.component.isAuthorizerTokenValid(AUTH1, (await p.h.getToken(AUTH1)).token!.accessToken)).toBe(true);
    expect((await p.list()).authorizers.map((a) => a.appId)).toEqual([AUTH1]);
    expect(p.h.logs.text()).toContain("older than the account's latest authorization");
  });

  it("an account that leaves and comes back is never served its revoked token: the stored one is dropped with it", async () => {
    const disk = breakableStore();
    const p = await ready({ storePath: disk.storePath });
    await p.fake.component.authorize(AUTH1);
    const revoked = (await p.h.getToken(AUTH1)).token!.accessToken;
    await p.fake.component.deauthorize(AUTH1);
    await eventually(() => expect(readFileSync(disk.storePath, "utf8")).not.toContain(revoked));
    // It authorizes again a minute later, and that push is lost: the list brings it back, with no token of its own.
    await p.clock.advance(60_000);
    p.fake.component.pushUrl = "http://127.0.0.1:9/unreachable";
    await p.fake.component.authorize(AUTH1).catch(() => undefined);
    p.fake.component.pushUrl = p.pushUrl;
    expect(await p.sync()).toMatchObject({ restored: 1 });
    await until(p, async () => {
      const t = (await p.h.getToken(AUTH1, 300)).token!;
      expect(t.accessToken).not.toBe(revoked);
      expect(p.fake.component.isAuthorizerTokenValid(AUTH1, t.accessToken)).toBe(true);
    });
  });

  it("with Redis: the de-authorization deletes the account's shared token in the same script", async () => {
    const prefix = uniquePrefix();
    cleanups.push(() => dropPrefix(SHARED_REDIS_URL, prefix));
    const store = new RedisStore({ url: SHARED_REDIS_URL, keyPrefix: prefix, lockLeaseMs: 5000, log: silentLogger });
    const p = await ready({ store });
    const r = new Redis(SHARED_REDIS_URL);
    cleanups.push(() => r.disconnect());
    await p.fake.component.authorize(AUTH1);
    await eventually(async () => expect(await r.exists(`${prefix}token:${AUTH1}`)).toBe(1));
    await p.fake.component.deauthorize(AUTH1);
    expect(await r.exists(`${prefix}token:${AUTH1}`)).toBe(0);
    expect(Number(await r.hget(`${prefix}platform:${COMPONENT}:deauthorized`, AUTH1))).toBe(Math.floor(p.clock.now() / 1000) * 1000);
  });
});

describe("the authorizer list against records newer than it", () => {
  const T0 = Date.UTC(2026, 5, 1);

  it("a refresh token stored while the list was being read is kept; an account authorized meanwhile is not marked missing", async () => {
    const store = new MemoryStore();
    await store.saveAuthorizer(COMPONENT, { appId: AUTH1, refreshToken: "refresh-old", status: "active", authorizedAt: T0, updatedAt: T0 });
    const readSince = T0 + 10_000;
    // While the pages were read: AUTH1's refresh token rotated, AUTH2 authorized.
    await store.updateAuthorizer(COMPONENT, AUTH1, "refresh-old", { refreshToken: "refresh-rotated", updatedAt: readSince + 1 });
    await store.saveAuthorizer(COMPONENT, { appId: AUTH2, refreshToken: "refresh-a2", status: "active", authorizedAt: readSince + 2, updatedAt: readSince + 2 });
    const { result } = await applyAuthorizerList(store, COMPONENT, [{ appId: AUTH1, refreshToken: "refresh-old", authTime: T0 }], readSince + 5, readSince);
    expect(result).toEqual({ restored: 0, updated: 0, unchanged: 1, missing: 0 });
    expect((await store.authorizer(COMPONENT, AUTH1))!.refreshToken).toBe("refresh-rotated");
    expect((await store.authorizer(COMPONENT, AUTH2))!.status).toBe("active");
  });

  it("an account de-authorized after its listed authorization is not restored", async () => {
    const store = new MemoryStore();
    await store.removeAuthorizer(COMPONENT, AUTH1, T0 + 5_000, []);
    const { result } = await applyAuthorizerList(store, COMPONENT, [{ appId: AUTH1, refreshToken: "refresh-revoked", authTime: T0 }], T0 + 6_000, T0 + 4_000);
    expect(result.restored).toBe(0);
    expect(await store.authorizer(COMPONENT, AUTH1)).toBeUndefined();
  });
});

describe("a store unreadable at start", () => {
  it("Redis down at start and back empty: WeChat's list is read and every authorizer served", async () => {
    const redis = await OwnRedis.start();
    cleanups.push(() => redis.kill());
    await redis.kill();
    const clock = new FakeClock();
    const fake = new FakeWeChat({ apps: {}, clock, overlapMs: 300_000, component: componentOptions([AUTH1, AUTH2]) });
    await fake.start();
    cleanups.push(() => fake.close());
    const store = new RedisStore({ url: redis.url, keyPrefix: "wxtoken:", lockLeaseMs: 5000, log: silentLogger });
    const p = await start({ clock, fake, store });
    await redis.start();
    await eventually(async () => {
      await clock.advance(1000);
      for (const appId of [AUTH1, AUTH2]) expect(fake.component.isAuthorizerTokenValid(appId, (await p.h.getToken(appId, 300)).token!.accessToken)).toBe(true);
    }, 15_000);
    expect(p.calls("api_get_authorizer_list")).toBe(1);
    expect((await p.list()).authorizers.map((a) => a.appId)).toEqual([AUTH1, AUTH2]);
  });
});

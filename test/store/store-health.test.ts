/**
 * A store that refuses writes is reported, not hidden (issue 18, item 9):
 * gRPC health's `wxtoken.v1.Store` turns NOT_SERVING at the first write the
 * store refuses and SERVING again when one lands, while the overall status
 * stays SERVING (valid tokens are still served from memory); and a local
 * store whose directory cannot be written fails the start with a message
 * that says so, instead of at the first write.
 *
 * Tests run as root in CI, where chmod stops nothing: a directory is made
 * unwritable by chmod when not root and, as root, by putting a regular file
 * where the directory was (the store's own files moved aside meanwhile).
 */
import { credentials } from "@grpc/grpc-js";
import { chmodSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { HealthCheckResponse_ServingStatus as S, HealthClient } from "../../generated/grpc/health/v1/health.js";
import { FakeClock } from "../../src/clock.js";
import type { TokenStore } from "../../src/core/store.js";
import { createLogger, silentLogger } from "../../src/log.js";
import { FileStore } from "../../src/store/file-store.js";
import { RedisStore } from "../../src/store/redis-store.js";
import { SqliteStore } from "../../src/store/sqlite-store.js";
import { STORE_HEALTH_NAME, TOKEN_SERVICE_NAME } from "../../src/wxtoken.js";
import { useCli } from "../support/cli.js";
import { APP, eventually, Harness, LogCapture, startFakeWeChat, tempDir } from "../support/harness.js";
import { OwnRedis, uniquePrefix } from "../support/redis.js";

const fixture = useCli();
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const root = process.getuid?.() === 0;

/** The directory refuses new files (chmod 0500; as root, a regular file in its place). Returns how to undo it. */
function makeUnwritable(dir: string): () => void {
  if (!root) {
    chmodSync(dir, 0o500);
    return () => chmodSync(dir, 0o700);
  }
  renameSync(dir, `${dir}.aside`);
  writeFileSync(dir, "not a directory");
  return () => {
    rmSync(dir);
    renameSync(`${dir}.aside`, dir);
  };
}

async function started(store: TokenStore | undefined): Promise<{ h: Harness; check: (service: string) => Promise<S> }> {
  const clock = new FakeClock();
  const fake = await startFakeWeChat(clock, cleanups);
  const h = await Harness.start({ clock, fake, store });
  cleanups.push(() => h.stop());
  const health = new HealthClient(`127.0.0.1:${h.port}`, credentials.createInsecure());
  cleanups.push(() => health.close());
  const check = (service: string) => new Promise<S>((resolve, reject) => health.check({ service }, (err, res) => (err ? reject(err) : resolve(res.status))));
  return { h, check };
}

/** A new token for APP: a store write. */
async function aWrite(h: Harness): Promise<void> {
  const held = (await h.getToken(APP)).token!;
  await h.forceRefresh(APP, held.accessToken);
}

describe("wxtoken.v1.Store follows the store's writes", () => {
  it("SQLite (the default store): NOT_SERVING from a write the database refuses, SERVING once the retry lands; the overall status stays SERVING", async () => {
    const logs = new LogCapture();
    const store = new SqliteStore({ path: join(tempDir(), "state", "wxtoken.db"), firstRetryMs: 20, log: createLogger({ level: "debug", destination: logs }) });
    const { h, check } = await started(store);
    await h.getToken(APP);
    expect(await check(STORE_HEALTH_NAME)).toBe(S.SERVING);
    // An open database keeps writing through its open files whatever happens to
    // the directory: what refuses it after start is the file system (read-only,
    // full). query_only gets the same answer from SQLite, SQLITE_READONLY.
    store.connection().pragma("query_only = 1");
    await aWrite(h);
    await eventually(async () => expect(await check(STORE_HEALTH_NAME)).toBe(S.NOT_SERVING));
    expect(h.server.storeHealthy()).toBe(false);
    expect(await check("")).toBe(S.SERVING);
    expect(await check(TOKEN_SERVICE_NAME)).toBe(S.SERVING);
    expect(await check(`${TOKEN_SERVICE_NAME}/${APP}`)).toBe(S.SERVING);
    expect(logs.text()).toContain("could not write tokens to the token database");

    store.connection().pragma("query_only = 0");
    // No further save: the store's own retry is the write that lands.
    await eventually(async () => expect(await check(STORE_HEALTH_NAME)).toBe(S.SERVING));
    expect(h.server.storeHealthy()).toBe(true);
    expect(logs.text()).toContain("the token store takes writes again");
  });

  it("SQLite: a refused platform write turns it NOT_SERVING too, and the next that lands SERVING", async () => {
    const store = new SqliteStore({ path: join(tempDir(), "wxtoken.db"), firstRetryMs: 3_600_000 });
    cleanups.push(() => store.close());
    await store.load();
    const heard: boolean[] = [];
    store.health.onChange((ok) => heard.push(ok));
    const at = Date.UTC(2026, 0, 1);
    const ticket = { value: "ticket-1", createdAt: at, receivedAt: at, expiresAt: at + 43_200_000 };
    store.connection().pragma("query_only = 1");
    await expect(store.saveTicket("wxcomponent0000001", ticket)).rejects.toThrow(/could not write/);
    expect(store.health.healthy()).toBe(false);
    store.connection().pragma("query_only = 0");
    expect(await store.saveTicket("wxcomponent0000001", ticket)).toBe(true);
    expect(heard).toEqual([false, true]);
  });

  it("file store: a directory that stops taking files after start turns it NOT_SERVING at the next write, SERVING once it takes them again", async () => {
    const dir = join(tempDir(), "state");
    const store = new FileStore(join(dir, "tokens.json"), silentLogger, 20);
    const { h, check } = await started(store);
    await h.getToken(APP);
    await store.flush();
    expect(await check(STORE_HEALTH_NAME)).toBe(S.SERVING);
    const undo = makeUnwritable(dir);
    let undone = false;
    cleanups.push(() => undone || undo());
    // Nothing is written yet: nothing to report.
    expect(await check(STORE_HEALTH_NAME)).toBe(S.SERVING);
    await aWrite(h);
    await eventually(async () => expect(await check(STORE_HEALTH_NAME)).toBe(S.NOT_SERVING));
    expect(await check("")).toBe(S.SERVING);
    undo();
    undone = true;
    await eventually(async () => expect(await check(STORE_HEALTH_NAME)).toBe(S.SERVING));
    expect(h.server.storeHealthy()).toBe(true);
  });

  it("Redis: NOT_SERVING while Redis is down, SERVING once it is back", async () => {
    const redis = await OwnRedis.start();
    cleanups.push(() => redis.kill());
    const store = new RedisStore({ url: redis.url, keyPrefix: uniquePrefix(), lockLeaseMs: 10_000, log: silentLogger });
    const { h, check } = await started(store);
    await h.getToken(APP);
    expect(await check(STORE_HEALTH_NAME)).toBe(S.SERVING);
    await redis.kill();
    await eventually(async () => expect(await check(STORE_HEALTH_NAME)).toBe(S.NOT_SERVING));
    expect(await check("")).toBe(S.SERVING);
    await redis.start();
    await eventually(async () => expect(await check(STORE_HEALTH_NAME)).toBe(S.SERVING), 10_000);
  }, 20_000);

  it("the memory store cannot fail: always SERVING", async () => {
    const { check } = await started(undefined);
    expect(await check(STORE_HEALTH_NAME)).toBe(S.SERVING);
  });
});

describe("a local store that cannot write at start", () => {
  const unwritable = /the token store cannot write in .*\/state \((not a directory|EACCES)\): .*Make it a directory this process's user .* can write in, or set store.path/;

  for (const type of ["sqlite", "file"] as const) {
    it(`${type}: the start fails, naming the directory and what to do (no first write needed)`, async () => {
      const dir = join(tempDir(), "state");
      mkdirSync(dir);
      const undo = makeUnwritable(dir);
      cleanups.push(undo);
      const fake = await startFakeWeChat(new FakeClock(), cleanups);
      const path = join(dir, type === "sqlite" ? "wxtoken.db" : "tokens.json");
      await expect(Harness.start({ fake, config: { store: { type, path } } })).rejects.toThrow(unwritable);
      // Nothing was asked of WeChat: no token fetched that could not be kept.
      expect(fake.calls("/cgi-bin/token")).toBe(0);
    });
  }

  it("wxtoken serve exits 1 with that message", async () => {
    const dir = join(tempDir(), "state");
    writeFileSync(dir, "not a directory");
    const config = join(tempDir(), "wxtoken.json");
    const apps = [{ appId: "wxcli000000000001", secretEnv: "WX_CLI_SECRET" }];
    writeFileSync(config, JSON.stringify({ apps, store: { type: "sqlite", path: join(dir, "wxtoken.db") } }));
    const result = await fixture.cli.run(["serve", "--config", config], { env: { WX_CLI_SECRET: "x" } });
    expect(result.stderr).toMatch(/^error: the token store cannot write in .*\/state \(not a directory\): /m);
    expect(result.code).toBe(1);
  });
});

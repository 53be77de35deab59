/**
 * The metrics operators chart and alert on (issue 19, item 5): the build,
 * config reloads, quota limits beside the counts, failing credentials, the
 * transport label, the store's writes, the replicas' shares, and label values
 * that no client or upstream answer can multiply. Real servers, the fake
 * WeChat over HTTP, real Redis for the replicas, one FakeClock.
 */
import { readFileSync } from "node:fs";
import { status } from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { FakeClock } from "../../src/clock.js";
import { ConfigError, parseConfig } from "../../src/config/load.js";
import { silentLogger } from "../../src/log.js";
import { MemoryStore } from "../../src/store/memory-store.js";
import { RedisStore } from "../../src/store/redis-store.js";
import { WriteHealth } from "../../src/store/write-health.js";
import { APP, APP2, eventually, grpcError, Harness, SECRETS, startFakeWeChat } from "../support/harness.js";
import { sample } from "../support/flood.js";
import { dropPrefix, SHARED_REDIS_URL, uniquePrefix } from "../support/redis.js";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function start(opts: Parameters<typeof Harness.start>[0] = {}): Promise<Harness> {
  const h = await Harness.start({ ...opts, config: { http: { listen: "127.0.0.1:0" }, metrics: { listen: "127.0.0.1:0" }, ...opts.config } });
  cleanups.push(() => h.stop());
  return h;
}

const scrape = (h: Harness) => h.server.metrics!.scrape();
const tok = (app_id: string) => ({ app_id, agent: "", kind: "access_token" });

/** Every value one label takes in one metric's samples. */
function labelValues(text: string, metric: string, label: string): Set<string> {
  const values = new Set<string>();
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${metric}{`)) continue;
    const m = new RegExp(`[{,]${label}="([^"]*)"`).exec(line);
    if (m) values.add(m[1]!);
  }
  return values;
}

describe("operator metrics", () => {
  it("names the build: the package's version and Node's", async () => {
    const h = await start();
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
    expect(sample(await scrape(h), "wxtoken_build_info", { version: pkg.version, node_version: process.version })).toBe(1);
  });

  it("counts config reloads by result, and when the config was last applied", async () => {
    const h = await start();
    const t0 = h.clock.now() / 1000;
    const text0 = await scrape(h);
    expect(sample(text0, "wxtoken_config_reload_total", { result: "success" })).toBe(0);
    expect(sample(text0, "wxtoken_config_reload_total", { result: "failure" })).toBe(0);
    expect(sample(text0, "wxtoken_config_last_reload_successful", {})).toBe(1);
    expect(sample(text0, "wxtoken_config_last_reload_success_timestamp_seconds", {})).toBe(t0);

    await h.clock.advance(60_000);
    const apps = Object.entries(SECRETS).map(([appId, secret]) => ({ appId, secret }));
    h.server.reloadFrom(() => parseConfig({ listen: "127.0.0.1:0", store: { type: "memory" }, apps, shutdownGraceMs: 2000 }));
    await h.clock.advance(60_000);
    expect(() => h.server.reloadFrom(() => { throw new ConfigError("config error at apps[0].appId: bad"); })).toThrow(/apps\[0\]/);
    const text = await scrape(h);
    expect(sample(text, "wxtoken_config_reload_total", { result: "success" })).toBe(1);
    expect(sample(text, "wxtoken_config_reload_total", { result: "failure" })).toBe(1);
    expect(sample(text, "wxtoken_config_last_reload_successful", {})).toBe(0);
    // The failed reload does not move the time of the last success.
    expect(sample(text, "wxtoken_config_last_reload_success_timestamp_seconds", {})).toBe(t0 + 60);
  });

  it("reports each credential's daily limit beside its count, and whether it is failing", async () => {
    const h = await start({
      config: { quota: { dailyBudget: 50, forceRefreshDailyBudget: 50, minForceRefreshIntervalSeconds: 0, clientForceRefreshPerMinute: 1000 }, refresh: { adminRetrySeconds: 1 } },
    });
    await eventually(() => expect(h.fake.successfulTokenCalls()).toBe(2));
    let text = await scrape(h);
    expect(sample(text, "wxtoken_upstream_quota_limit", tok(APP))).toBe(50);
    expect(sample(text, "wxtoken_upstream_quota_used_today", tok(APP))).toBe(1);
    expect(sample(text, "wxtoken_token_failing", tok(APP))).toBe(0);
    const held = (await h.getToken(APP)).token!.accessToken;
    h.fake.inject({ appId: APP, errcode: 40164 });
    expect((await grpcError(h.forceRefresh(APP, held))).code).toBe(status.FAILED_PRECONDITION);
    text = await scrape(h);
    expect(sample(text, "wxtoken_token_failing", tok(APP))).toBe(1);
    expect(sample(text, "wxtoken_token_failing", tok(APP2))).toBe(0);
    // The retry a second later lands.
    await h.clock.advance(5000);
    await eventually(async () => expect(sample(await scrape(h), "wxtoken_token_failing", tok(APP))).toBe(0));
    expect(sample(await scrape(h), "wxtoken_upstream_quota_used_today", tok(APP))).toBe(2);
  });

  it("labels calls by transport and method, and collapses unknown methods, codes and errcodes into fixed values", async () => {
    const h = await start({ config: { refresh: { adminRetrySeconds: 1, permanentRetrySeconds: 1 } } });
    await eventually(() => expect(h.fake.successfulTokenCalls()).toBe(2));
    const http = `http://127.0.0.1:${h.server.httpPort}`;
    expect((await fetch(`${http}/v1/apps/${APP}/token`)).status).toBe(200);
    await h.getToken(APP);
    await h.getToken(APP);
    // Garbage paths and methods, each different: none may become a series of its own.
    for (let i = 0; i < 20; i++) {
      expect((await fetch(`${http}/v1/apps/${APP}/garbage${i}`)).status).toBe(404);
      expect((await fetch(`${http}/v1/nothing${i}`, { method: "PATCH" })).status).toBeGreaterThanOrEqual(400);
    }
    // WeChat answers errcodes no table documents, a new one each time: one "other" series.
    // Each answers a ForceRefresh; the retry a second later recovers before the next.
    const cred = h.server.credential(APP2);
    for (const errcode of [99991, 99992, 99993, 40164]) {
      h.fake.inject({ appId: APP2, errcode });
      await grpcError(h.forceRefresh(APP2, (await h.getToken(APP2)).token!.accessToken));
      expect((cred.lastError() as { errcode?: number } | undefined)?.errcode).toBe(errcode);
      await h.clock.advance(5000);
      await eventually(() => expect(cred.lastError()).toBeUndefined());
    }
    const text = await scrape(h);
    expect(sample(text, "wxtoken_rpc_total", { transport: "http", method: "GetToken", code: "OK" })).toBe(1);
    expect(sample(text, "wxtoken_rpc_total", { transport: "grpc", method: "GetToken", code: "OK" })).toBe(2 + 4);
    expect(sample(text, "wxtoken_rpc_duration_seconds_count", { transport: "http", method: "GetToken" })).toBe(1);
    expect(sample(text, "wxtoken_rpc_total", { transport: "http", method: "other", code: "NOT_FOUND" })).toBeGreaterThanOrEqual(20);
    // The methods the proto declares (read here from the .proto, not from the code), and "other".
    const declared = [...readFileSync(new URL("../../proto/wxtoken/v1/token_service.proto", import.meta.url), "utf8").matchAll(/^\s*rpc (\w+)\(/gm)].map((m) => m[1]!);
    expect(declared).toContain("GetToken");
    for (const metric of ["wxtoken_rpc_total", "wxtoken_rpc_duration_seconds_count"]) {
      for (const method of labelValues(text, metric, "method")) expect([...declared, "other"]).toContain(method);
      expect(labelValues(text, metric, "transport")).toEqual(new Set(["grpc", "http"]));
    }
    const calls = (errcode: string) => sample(text, "wxtoken_upstream_calls_total", { ...tok(APP2), endpoint: "token", errcode });
    expect([calls("other"), calls("40164")]).toEqual([3, 1]);
    expect(labelValues(text, "wxtoken_upstream_calls_total", "errcode")).toEqual(new Set(["0", "40164", "other"]));
  });

  it("follows the store's writes", async () => {
    const store = new MemoryStore();
    const health = new WriteHealth("test");
    Object.defineProperty(store, "health", { value: health });
    const h = await start({ store });
    expect(sample(await scrape(h), "wxtoken_store_writable", { store: "memory" })).toBe(1);
    health.failed();
    expect(sample(await scrape(h), "wxtoken_store_writable", { store: "memory" })).toBe(0);
    health.succeeded();
    expect(sample(await scrape(h), "wxtoken_store_writable", { store: "memory" })).toBe(1);
  });

  it("one process owns every credential; replicas on Redis split them, each credential owned once", async () => {
    const alone = await start();
    expect(sample(await scrape(alone), "wxtoken_replicas_live", {})).toBe(1);
    expect(sample(await scrape(alone), "wxtoken_replica_owned_credentials", {})).toBe(2);
    expect(sample(await scrape(alone), "wxtoken_credentials", {})).toBe(2);

    const clock = new FakeClock();
    const fake = await startFakeWeChat(clock, cleanups);
    const prefix = uniquePrefix();
    cleanups.push(() => dropPrefix(SHARED_REDIS_URL, prefix));
    // Two credentials over three replicas: each owned by one, so the shares add up to two (every replica counting all would make six).
    const apps = Object.keys(SECRETS).map((appId) => ({ appId, secretEnv: `SECRET_${appId}` }));
    const replicas = await Promise.all(
      [0, 1, 2].map(async () => {
        const store = new RedisStore({ url: SHARED_REDIS_URL, keyPrefix: prefix, lockLeaseMs: 5000, log: silentLogger });
        const h = await Harness.start({ clock, fake, store, apps, config: { metrics: { listen: "127.0.0.1:0" } } });
        cleanups.push(() => h.stop());
        return h;
      }),
    );
    // A heartbeat (every lease/3, 5 s by default) tells each replica of the others.
    await clock.advance(5000);
    await eventually(async () => {
      for (const r of replicas) expect(sample(await scrape(r), "wxtoken_replicas_live", {})).toBe(3);
    });
    const owned = await Promise.all(replicas.map(async (r) => sample(await scrape(r), "wxtoken_replica_owned_credentials", {})!));
    expect(owned.reduce((a, b) => a + b, 0)).toBe(apps.length);
    for (const r of replicas) expect(sample(await scrape(r), "wxtoken_credentials", {})).toBe(apps.length);
  });
});

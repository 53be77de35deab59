/**
 * Prometheus metrics: a full scenario over the real server and the fake
 * WeChat, then a scrape of GET /metrics over real HTTP.
 */
import { Metadata, status } from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { parseListenAddress } from "../../src/listeners/listen.js";
import { APP, APP2, eventually, grpcError, Harness, SECRETS } from "../support/harness.js";

let h: Harness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The text exposition format, one sample per line (comments skipped). */
function parse(text: string): Sample[] {
  return text
    .split("\n")
    .filter((line) => line && !line.startsWith("#"))
    .map((line) => {
      const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
      if (!m) throw new Error(`not a sample line: ${line}`);
      const labels = Object.fromEntries([...(m[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]));
      return { name: m[1]!, labels, value: Number(m[3]) };
    });
}

/** The value of the one sample with exactly these labels (undefined if none). */
/** The labels of an app's access_token (WeCom agents and tickets have their own). */
const tok = (app_id: string) => ({ app_id, agent: "", kind: "access_token" });

function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const same = (s: Sample) =>
    s.name === name && Object.keys(s.labels).length === Object.keys(labels).length && Object.entries(labels).every(([k, v]) => s.labels[k] === v);
  const found = samples.filter(same);
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} ${JSON.stringify(labels)}`);
  return found[0]?.value;
}

async function startWithMetrics(): Promise<{ h: Harness; url: string }> {
  const harness = await Harness.start({ config: { metrics: { listen: "127.0.0.1:0" } } });
  return { h: harness, url: `http://127.0.0.1:${harness.server.metricsPort}` };
}

describe("GET /metrics", () => {
  it("counts upstream calls, RPCs and quota, and reads token state at scrape time", async () => {
    const started = await startWithMetrics();
    h = started.h;
    const { url } = started;
    // Startup fetched one token per app.
    await eventually(() => expect(h!.fake.successfulTokenCalls()).toBe(2));
    await h.clock.advance(1000_000);
    const first = (await h.getToken(APP)).token!;
    await h.getToken(APP);
    await h.getToken(APP2);
    const watch = h.client.watchToken({ kind: 0, agent: "", platformId: "", appId: APP, knownVersion: 0, knownFingerprint: "" }, new Metadata());
    watch.on("error", () => undefined);
    await new Promise((resolve) => watch.once("data", resolve));
    // A forced refresh that works, one WeChat refuses, one that never gets an answer, and an RPC error.
    const second = (await h.forceRefresh(APP2, (await h.getToken(APP2)).token!.accessToken)).token!;
    h.fake.inject({ appId: APP, errcode: 40164 });
    expect((await grpcError(h.forceRefresh(APP, first.accessToken))).code).toBe(status.FAILED_PRECONDITION);
    h.fake.inject({ appId: APP2, httpStatus: 502 });
    expect((await grpcError(h.forceRefresh(APP2, second.accessToken))).code).toBe(status.UNAVAILABLE);
    expect((await grpcError(h.getToken("wxnotconfigured"))).code).toBe(status.NOT_FOUND);

    const res = await fetch(`${url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    const m = parse(text);

    const calls = (app_id: string, errcode: string) => valueOf(m, "wxtoken_upstream_calls_total", { ...tok(app_id), endpoint: "token", errcode });
    expect([calls(APP, "0"), calls(APP, "40164"), calls(APP2, "0"), calls(APP2, "transport")]).toEqual([1, 1, 2, 1]);
    expect(valueOf(m, "wxtoken_refresh_duration_seconds_count", tok(APP))).toBe(2);
    expect(valueOf(m, "wxtoken_refresh_duration_seconds_count", tok(APP2))).toBe(3);
    // Calls that cannot have cost WeChat quota (an errcode answer, an HTTP 502) are not counted.
    expect(valueOf(m, "wxtoken_upstream_quota_used_today", tok(APP))).toBe(1);
    expect(valueOf(m, "wxtoken_upstream_quota_used_today", tok(APP2))).toBe(2);

    const rpc = (method: string, code: string) => valueOf(m, "wxtoken_rpc_total", { transport: "grpc", method, code });
    expect(rpc("GetToken", "OK")).toBe(4);
    expect(rpc("GetToken", "NOT_FOUND")).toBe(1);
    expect([rpc("ForceRefresh", "OK"), rpc("ForceRefresh", "FAILED_PRECONDITION"), rpc("ForceRefresh", "UNAVAILABLE")]).toEqual([1, 1, 1]);
    expect(valueOf(m, "wxtoken_rpc_duration_seconds_count", { transport: "grpc", method: "GetToken" })).toBe(5);
    expect(valueOf(m, "wxtoken_rpc_duration_seconds_count", { transport: "grpc", method: "ForceRefresh" })).toBe(3);

    // Token state, from the registry and the server's clock: APP's token is 1,000 s old, APP2's new.
    expect(valueOf(m, "wxtoken_token_version", tok(APP))).toBe(1);
    expect(valueOf(m, "wxtoken_token_version", tok(APP2))).toBe(2);
    expect(valueOf(m, "wxtoken_token_remaining_seconds", tok(APP))).toBe(6200);
    expect(valueOf(m, "wxtoken_token_remaining_seconds", tok(APP2))).toBe(7200);
    expect(valueOf(m, "wxtoken_watchers", tok(APP))).toBe(1);
    expect(valueOf(m, "wxtoken_watchers", tok(APP2))).toBe(0);

    // Process metrics from prom-client's defaults.
    expect(valueOf(m, "process_resident_memory_bytes")).toBeGreaterThan(0);
    expect(m.some((s) => s.name.startsWith("nodejs_heap_size_total_bytes"))).toBe(true);

    // Labels never carry tokens or secrets.
    for (const secret of [...Object.values(SECRETS), first.accessToken, second.accessToken]) expect(text).not.toContain(secret);

    // The stream ended: its subscriber is gone from the gauge and counted as CANCELLED.
    watch.cancel();
    await eventually(async () => {
      const after = parse(await (await fetch(`${url}/metrics`)).text());
      expect(valueOf(after, "wxtoken_watchers", tok(APP))).toBe(0);
      expect(valueOf(after, "wxtoken_rpc_total", { transport: "grpc", method: "WatchToken", code: "CANCELLED" })).toBe(1);
      expect(valueOf(after, "wxtoken_rpc_duration_seconds_count", { transport: "grpc", method: "WatchToken" })).toBeUndefined();
    });
  });

  it("answers 404 to anything but GET /metrics, and closes with the server", async () => {
    const started = await startWithMetrics();
    h = started.h;
    const { url } = started;
    expect((await fetch(`${url}/`)).status).toBe(404);
    expect((await fetch(`${url}/metrics/x`)).status).toBe(404);
    expect((await fetch(`${url}/metrics`, { method: "POST", body: "x" })).status).toBe(404);
    expect((await fetch(`${url}/metrics?name[]=x`)).status).toBe(200);
    await h.stop();
    h = undefined;
    await expect(fetch(`${url}/metrics`)).rejects.toThrow();
  });

  it("is off unless configured", async () => {
    h = await Harness.start();
    expect(h.server.metricsPort).toBeUndefined();
    expect(h.server.metrics).toBeUndefined();
  });

  it("parses its listen address", () => {
    expect(parseListenAddress("127.0.0.1:9464", "metrics.listen")).toEqual({ host: "127.0.0.1", port: 9464 });
    expect(parseListenAddress("[::1]:9464", "metrics.listen")).toEqual({ host: "::1", port: 9464 });
    expect(parseListenAddress(":9464", "metrics.listen")).toEqual({ host: undefined, port: 9464 });
    expect(() => parseListenAddress("9464", "metrics.listen")).toThrow(/metrics.listen must be host:port/);
  });
});

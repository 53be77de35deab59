/**
 * Caps on open watch streams (issue 18, item 7), with small configured caps,
 * over real gRPC and HTTP on loopback: per client (API key, or IP address
 * without auth; WatchToken and event streams counted together), per gRPC
 * connection, in all, and the same for the unauthenticated health Watch. A
 * refusal is RESOURCE_EXHAUSTED / 429 TOO_MANY_WATCHES, counted in the
 * metrics and logged once, then once a minute. Every wait is bounded by
 * `eventually`; none asserts a speed.
 */
import { credentials, status, type ClientReadableStream, type ServiceError } from "@grpc/grpc-js";
import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { HealthClient } from "../../generated/grpc/health/v1/health.js";
import { TokenServiceClient } from "../../generated/wxtoken/v1/token_service.js";
import { generateApiKey, hashApiKey } from "../../src/auth/api-key.js";
import { clientOptions } from "../../packages/client/src/client-credentials.js";
import type { ConfigInput } from "../../src/config/schema.js";
import { statusDetailsOf } from "../../packages/client/src/status-details.js";
import { sample } from "../support/flood.js";
import { APP, eventually, Harness } from "../support/harness.js";

const KEY_A = generateApiKey();
const KEY_B = generateApiKey();
const AUTH: ConfigInput["auth"] = {
  clients: [
    { name: "a", apiKeySha256: hashApiKey(KEY_A), read: ["*"] },
    { name: "b", apiKeySha256: hashApiKey(KEY_B), read: ["*"] },
  ],
};

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function start(watches: ConfigInput["watches"], auth?: ConfigInput["auth"]): Promise<Harness> {
  const h = await Harness.start({ config: { http: { listen: "127.0.0.1:0" }, metrics: { listen: "127.0.0.1:0" }, watches, ...(auth ? { auth } : {}) } });
  cleanups.push(() => h.stop());
  // A token is held: an accepted stream gets its first message at once.
  await h.server.credential(APP).get();
  return h;
}

/** A gRPC connection of its own (grpc-js shares one between equal clients unless told not to). */
function connection<T extends TokenServiceClient | HealthClient>(h: Harness, Client: new (...args: ConstructorParameters<typeof TokenServiceClient>) => T, apiKey?: string): T {
  const c = new Client(`127.0.0.1:${h.port}`, credentials.createInsecure(), { ...clientOptions({ apiKey }), "grpc.use_local_subchannel_pool": 1 });
  cleanups.push(() => c.close());
  return c;
}

interface Opened {
  /** "open" once the first message came, else the stream's error. */
  result: Promise<"open" | ServiceError>;
  cancel(): void;
}

function opened(stream: ClientReadableStream<unknown>): Opened {
  const result = new Promise<"open" | ServiceError>((resolve) => {
    stream.once("data", () => resolve("open"));
    stream.on("error", (err: ServiceError) => resolve(err));
  });
  cleanups.push(() => stream.cancel());
  return { result, cancel: () => stream.cancel() };
}

const watchToken = (c: TokenServiceClient) => opened(c.watchToken({ appId: APP, kind: 0, agent: "", platformId: "", knownVersion: 0, knownFingerprint: "" }));
const watchHealth = (c: HealthClient) => opened(c.watch({ service: "" }));

/** Opens streams one after the other; each must be accepted. */
async function openAll(n: number, open: () => Opened): Promise<Opened[]> {
  const all: Opened[] = [];
  for (let i = 0; i < n; i++) {
    const s = open();
    expect(await s.result).toBe("open");
    all.push(s);
  }
  return all;
}

/** The refusal a stream ended with: its code, message and ErrorInfo. */
async function refusal(s: Opened): Promise<{ code: number; details: string; reason?: string; metadata?: Record<string, string> }> {
  const err = await s.result;
  if (err === "open") throw new Error("expected the stream to be refused, but it opened");
  const info = statusDetailsOf(err.metadata)?.errorInfo;
  return { code: err.code, details: err.details, reason: info?.reason, metadata: info?.metadata };
}

/** An event stream over the HTTP API; kept open (until the test ends) when accepted. */
async function sse(h: Harness, apiKey?: string): Promise<{ status: number; close?: () => void; json?: { message: string; details: { reason: string; metadata: Record<string, string> }[] } }> {
  const abort = new AbortController();
  const res = await request(`http://127.0.0.1:${h.server.httpPort}/v1/apps/${APP}/token:watch`, {
    headers: { accept: "text/event-stream", ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}) },
    signal: abort.signal,
  });
  if (res.statusCode === 200) {
    cleanups.push(() => abort.abort());
    res.body.on("error", () => undefined);
    return { status: 200, close: () => abort.abort() };
  }
  return { status: res.statusCode, json: (await res.body.json()) as never };
}

async function metric(h: Harness, name: string, labels: Record<string, string>): Promise<number | undefined> {
  return sample(await h.server.metrics!.scrape(), name, labels);
}

const UNCAPPED = { perClient: 1000, perConnection: 1000, total: 1000 };

describe("token watch caps", () => {
  it("caps one client's streams, gRPC and event streams together, and gives a place back when one closes", async () => {
    const h = await start({ tokens: { ...UNCAPPED, perClient: 3 } }, AUTH);
    const a1 = connection(h, TokenServiceClient, KEY_A);
    const a2 = connection(h, TokenServiceClient, KEY_A);
    const [first] = await openAll(1, () => watchToken(a1));
    await openAll(1, () => watchToken(a2));
    expect((await sse(h, KEY_A)).status).toBe(200);

    // A fourth, on either transport and on any connection, is refused.
    expect(await refusal(watchToken(a1))).toEqual({
      code: status.RESOURCE_EXHAUSTED,
      details: 'too many watch streams from client "a": 3 open (watches.tokens.perClient); close some before opening more',
      reason: "TOO_MANY_WATCHES",
      metadata: { limit: "PER_CLIENT", max: "3" },
    });
    const overHttp = await sse(h, KEY_A);
    expect(overHttp.status).toBe(429);
    expect(overHttp.json?.details[0]).toMatchObject({ reason: "TOO_MANY_WATCHES", metadata: { limit: "PER_CLIENT", max: "3" } });
    // Another client is not affected.
    await openAll(3, () => watchToken(connection(h, TokenServiceClient, KEY_B)));
    expect(h.server.api.watcherCount()).toBe(6);
    expect(await metric(h, "wxtoken_watch_streams", { stream: "token" })).toBe(6);
    expect(await metric(h, "wxtoken_watch_refused_total", { stream: "token", limit: "client" })).toBe(2);
    expect(await metric(h, "wxtoken_rpc_total", { transport: "grpc", method: "WatchToken", code: "RESOURCE_EXHAUSTED" })).toBe(1);
    expect(await metric(h, "wxtoken_rpc_total", { transport: "http", method: "WatchToken", code: "RESOURCE_EXHAUSTED" })).toBe(1);

    first!.cancel();
    await eventually(() => expect(h.server.api.watcherCount()).toBe(5));
    await openAll(1, () => watchToken(a1));
    expect(await refusal(watchToken(a2))).toMatchObject({ metadata: { limit: "PER_CLIENT" } });
  });

  it("counts callers without auth by IP address, and a stream refused for another reason takes no place", async () => {
    const h = await start({ tokens: { ...UNCAPPED, perClient: 2 } });
    const c1 = connection(h, TokenServiceClient);
    const unknown = opened(c1.watchToken({ appId: "wx9999999999999999", kind: 0, agent: "", platformId: "", knownVersion: 0, knownFingerprint: "" }));
    expect(await refusal(unknown)).toMatchObject({ code: status.NOT_FOUND });
    await openAll(1, () => watchToken(c1));
    const events = await sse(h);
    expect(events.status).toBe(200);
    const err = await refusal(watchToken(connection(h, TokenServiceClient)));
    expect(err.details).toBe("too many watch streams from peer 127.0.0.1: 2 open (watches.tokens.perClient); close some before opening more");
    // A closed event stream gives its place back too.
    events.close!();
    await eventually(() => expect(h.server.api.watcherCount()).toBe(1));
    await openAll(1, () => watchToken(connection(h, TokenServiceClient)));
  });

  it("caps the streams of one gRPC connection; another connection of the same client gets its own", async () => {
    const h = await start({ tokens: { ...UNCAPPED, perConnection: 2 } }, AUTH);
    const c1 = connection(h, TokenServiceClient, KEY_A);
    await openAll(2, () => watchToken(c1));
    expect(await refusal(watchToken(c1))).toEqual({
      code: status.RESOURCE_EXHAUSTED,
      details: "too many watch streams on this connection: 2 open (watches.tokens.perConnection); use another connection",
      reason: "TOO_MANY_WATCHES",
      metadata: { limit: "PER_CONNECTION", max: "2" },
    });
    await openAll(2, () => watchToken(connection(h, TokenServiceClient, KEY_A)));
    expect(h.server.api.watcherCount()).toBe(4);
    expect(await metric(h, "wxtoken_watch_refused_total", { stream: "token", limit: "connection" })).toBe(1);
  });

  it("caps every client's streams together", async () => {
    const h = await start({ tokens: { ...UNCAPPED, total: 2 } }, AUTH);
    await openAll(1, () => watchToken(connection(h, TokenServiceClient, KEY_A)));
    expect((await sse(h, KEY_B)).status).toBe(200);
    expect(await refusal(watchToken(connection(h, TokenServiceClient, KEY_B)))).toMatchObject({
      code: status.RESOURCE_EXHAUSTED,
      metadata: { limit: "TOTAL", max: "2" },
    });
    expect((await sse(h, KEY_A)).status).toBe(429);
    expect(await metric(h, "wxtoken_watch_refused_total", { stream: "token", limit: "total" })).toBe(2);
  });

  it("logs the first refusal, then one line a minute with the counts", async () => {
    const h = await start({ tokens: { ...UNCAPPED, perConnection: 1 } });
    const c = connection(h, TokenServiceClient);
    await openAll(1, () => watchToken(c));
    for (let i = 0; i < 5; i++) await refusal(watchToken(c));
    const warned = () => h.logs.lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.level === 40 && /watch stream/.test(String(l.msg)));
    expect(warned()).toHaveLength(1);
    expect(warned()[0]).toMatchObject({ stream: "token", limit: "connection", max: 1, key: "watches.tokens.perConnection" });
    await h.clock.advance(60_000);
    expect(warned()).toHaveLength(2);
    expect(warned()[1]).toMatchObject({ stream: "token", refused: { client: 0, connection: 4, total: 0 }, seconds: 60 });
    // A quiet minute: no line, and the next refusal is told in full again.
    await h.clock.advance(60_000);
    expect(warned()).toHaveLength(2);
    await refusal(watchToken(c));
    expect(warned()).toHaveLength(3);
    expect(warned()[2]).toMatchObject({ limit: "connection" });
  });
});

describe("health watch caps", () => {
  it("caps unauthenticated health watches per connection and per IP address, and gives places back", async () => {
    const h = await start({ health: { perConnection: 2, perPeer: 3, total: 100 } }, AUTH);
    const c1 = connection(h, HealthClient);
    const c2 = connection(h, HealthClient);
    const [first] = await openAll(2, () => watchHealth(c1));
    expect(await refusal(watchHealth(c1))).toEqual({
      code: status.RESOURCE_EXHAUSTED,
      details: "too many health watch streams on this connection: 2 open (watches.health.perConnection); use another connection",
      reason: "TOO_MANY_WATCHES",
      metadata: { limit: "PER_CONNECTION", max: "2" },
    });
    await openAll(1, () => watchHealth(c2));
    expect(await refusal(watchHealth(c2))).toEqual({
      code: status.RESOURCE_EXHAUSTED,
      details: "too many health watch streams from peer 127.0.0.1: 3 open (watches.health.perPeer); close some before opening more",
      reason: "TOO_MANY_WATCHES",
      metadata: { limit: "PER_PEER", max: "3" },
    });
    expect(h.server.health.watcherCount()).toBe(3);
    expect(await metric(h, "wxtoken_watch_streams", { stream: "health" })).toBe(3);
    expect(await metric(h, "wxtoken_watch_refused_total", { stream: "health", limit: "connection" })).toBe(1);
    expect(await metric(h, "wxtoken_watch_refused_total", { stream: "health", limit: "client" })).toBe(1);
    // Token watches are counted apart.
    await openAll(3, () => watchToken(connection(h, TokenServiceClient, KEY_A)));

    first!.cancel();
    await eventually(() => expect(h.server.health.watcherCount()).toBe(2));
    await openAll(1, () => watchHealth(c2));
  });

  it("caps every caller's health watches together", async () => {
    const h = await start({ health: { perConnection: 100, perPeer: 100, total: 2 } });
    await openAll(2, () => watchHealth(connection(h, HealthClient)));
    expect(await refusal(watchHealth(connection(h, HealthClient)))).toMatchObject({
      code: status.RESOURCE_EXHAUSTED,
      details: "too many health watch streams on this server: 2 open (watches.health.total); retry later",
      metadata: { limit: "TOTAL", max: "2" },
    });
  });
});

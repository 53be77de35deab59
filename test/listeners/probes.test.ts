/**
 * The HTTP probes (issue 19, item 4): GET /healthz and /readyz on the HTTP
 * API's listener and on the metrics listener, over real HTTP: 200 when ready,
 * 503 while the store refuses writes and once shutdown has begun, no
 * credentials needed, and Host headers as a kubelet sends them answered.
 */
import { request as httpRequest } from "node:http";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { generateApiKey, hashApiKey } from "../../src/auth/api-key.js";
import { SqliteStore } from "../../src/store/sqlite-store.js";
import { APP, eventually, Harness, SECRETS, tempDir, type HarnessOptions } from "../support/harness.js";

let h: Harness | undefined;
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await h?.stop();
  h = undefined;
});

async function start(opts: HarnessOptions = {}): Promise<{ h: Harness; http: number; metrics: number }> {
  h = await Harness.start({ ...opts, config: { http: { listen: "127.0.0.1:0" }, metrics: { listen: "127.0.0.1:0" }, ...opts.config } });
  return { h, http: h.server.httpPort!, metrics: h.server.metricsPort! };
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: Record<string, unknown>;
}

/** One request on a fresh connection (node:http, so the Host header can be anything). */
function get(port: number, path: string, o: { method?: string; host?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: "127.0.0.1", port, path, method: o.method ?? "GET", agent: false, headers: { ...(o.host ? { host: o.host } : {}), ...o.headers } }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (text += c));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, text, json: text.startsWith("{") ? (JSON.parse(text) as Record<string, unknown>) : {} }));
    });
    req.on("error", reject);
    req.end();
  });
}

const READY = { status: "ready", checks: { started: "ok", store: "ok", shutdown: "ok" } };

/** A SQLite store whose writes can be refused (query_only: SQLite answers SQLITE_READONLY, as a read-only file system would). */
function sqliteStore(): SqliteStore {
  return new SqliteStore({ path: join(tempDir(), "wxtoken.db"), firstRetryMs: 20 });
}

describe("GET /healthz and /readyz", () => {
  it("answer 200 on the HTTP API's listener and the metrics listener when ready, with no token, secret or app in the body", async () => {
    const { h, http, metrics } = await start();
    const token = (await h.getToken(APP)).token!.accessToken;
    for (const port of [http, metrics]) {
      const alive = await get(port, "/healthz");
      expect(alive.status).toBe(200);
      expect(alive.json).toEqual({ status: "alive" });
      const ready = await get(port, "/readyz");
      expect(ready.status).toBe(200);
      expect(ready.headers["content-type"]).toBe("application/json; charset=utf-8");
      expect(ready.headers["cache-control"]).toBe("no-store");
      expect(ready.json).toEqual(READY);
      for (const text of [alive.text, ready.text]) {
        for (const secret of [token, APP, ...Object.values(SECRETS)]) expect(text).not.toContain(secret);
      }
      const head = await get(port, "/readyz", { method: "HEAD" });
      expect([head.status, head.text]).toEqual([200, ""]);
      const post = await get(port, "/readyz", { method: "POST" });
      expect([post.status, post.headers.allow]).toEqual([405, "GET, HEAD"]);
    }
  });

  it("/readyz answers 503 while the store refuses writes, and 200 once a write lands; ?exclude=store leaves the store out", async () => {
    const store = sqliteStore();
    const { h, http, metrics } = await start({ store });
    const held = (await h.getToken(APP)).token!.accessToken;
    store.connection().pragma("query_only = 1");
    // A store write (a new token) that the database refuses.
    await h.forceRefresh(APP, held);
    await eventually(() => expect(h.server.storeHealthy()).toBe(false));
    for (const port of [http, metrics]) {
      const refused = await get(port, "/readyz");
      expect(refused.status).toBe(503);
      expect(refused.json).toEqual({ status: "not_ready", checks: { started: "ok", store: "failing", shutdown: "ok" } });
      // Alive all the same: restarting the process would lose what only memory holds.
      expect((await get(port, "/healthz")).status).toBe(200);
      const excluded = await get(port, "/readyz?exclude=store");
      expect(excluded.status).toBe(200);
      expect(excluded.json).toEqual({ status: "ready", checks: { started: "ok", store: "excluded", shutdown: "ok" } });
      const misspelt = await get(port, "/readyz?exclude=stores");
      expect(misspelt.status).toBe(400);
      expect(misspelt.json.message).toContain('"stores"');
    }
    // Tokens are still served from memory meanwhile.
    expect((await h.getToken(APP)).token!.accessToken).not.toBe(held);
    store.connection().pragma("query_only = 0");
    // The store's own retry is the write that lands.
    await eventually(() => expect(h.server.storeHealthy()).toBe(true));
    for (const port of [http, metrics]) expect((await get(port, "/readyz")).json).toEqual(READY);
  });

  it("need no credentials when the HTTP API has API keys configured", async () => {
    const key = generateApiKey();
    const { http, metrics } = await start({ config: { auth: { clients: [{ name: "svc", apiKeySha256: hashApiKey(key), read: [APP] }] } } });
    expect((await get(http, `/v1/apps/${APP}/token`)).status).toBe(401);
    for (const port of [http, metrics]) {
      expect((await get(port, "/healthz")).status).toBe(200);
      const ready = await get(port, "/readyz");
      expect([ready.status, ready.json]).toEqual([200, READY]);
    }
  });

  it("answer the Host a kubelet sends (the pod's IP address and the port, v4 or v6); a name not allowed is still refused", async () => {
    const { http, metrics } = await start();
    for (const port of [http, metrics]) {
      for (const host of ["10.244.1.7:8080", "[fd00:10:244::7]:8080", "10.244.1.7"]) {
        expect((await get(port, "/readyz", { host })).status).toBe(200);
        expect((await get(port, "/healthz", { host })).status).toBe(200);
      }
      // DNS rebinding: a page's own name is refused on probes as everywhere else.
      expect((await get(port, "/readyz", { host: "evil.example" })).status).toBe(421);
    }
  });
});

describe("/readyz once shutdown has begun", () => {
  /** A raw connection with `data` written. */
  async function raw(port: number, data: string): Promise<{ socket: Socket; answer: Promise<string> }> {
    const socket = connect(port, "127.0.0.1");
    sockets.push(socket);
    await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
    let text = "";
    socket.setEncoding("utf8");
    socket.on("data", (c: string) => (text += c));
    const answer = new Promise<string>((resolve) => socket.on("close", () => resolve(text)));
    socket.write(data);
    return { socket, answer };
  }

  it("answers 503 on both listeners while the server drains; /healthz stays 200", async () => {
    const { h, http, metrics } = await start();
    // A request still sending its body: the HTTP API waits for it (within the grace period) before it closes.
    const slow = await raw(http, `POST /v1/apps/${APP}/token:refresh HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"stale`);
    // A probe whose headers are not finished: its connection is not idle, so shutdown does not close it.
    const probe = await raw(http, "GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    // A full round trip after both were written: the server has read them (one event loop, loopback).
    expect((await get(http, "/healthz")).status).toBe(200);

    const closing = h.server.shutdown(10_000);
    await eventually(async () => expect((await get(metrics, "/readyz")).status).toBe(503));
    expect((await get(metrics, "/readyz")).json).toEqual({ status: "not_ready", checks: { started: "ok", store: "ok", shutdown: "failing" } });
    expect((await get(metrics, "/healthz")).status).toBe(200);
    // The HTTP API's listener takes no new connection (a probe there fails as not ready)...
    await eventually(async () => expect(await get(http, "/readyz").then(() => "answered", (err: NodeJS.ErrnoException) => err.code)).toBe("ECONNREFUSED"));
    // ...and answers 503 on a connection already open.
    probe.socket.write("\r\n");
    const answer = await probe.answer;
    expect(answer).toMatch(/^HTTP\/1\.1 503 /);
    expect(answer).toContain('{"status":"not_ready","checks":{"started":"ok","store":"ok","shutdown":"failing"}}');

    slow.socket.destroy();
    await closing;
  });
});

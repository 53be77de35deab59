/**
 * The HTTP/JSON API and its server-sent events, against the real server and
 * the fake WeChat: the same answers, errors and semantics as gRPC.
 */
import { createHash } from "node:crypto";
import { connect } from "node:net";
import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { generateApiKey, hashApiKey } from "../../src/auth/api-key.js";
import { APP, APP2, eventually, Harness, SECRETS, type HarnessOptions } from "../support/harness.js";
import { openSse, type SseReader } from "../support/sse.js";

let h: Harness | undefined;
const readers: SseReader[] = [];
afterEach(async () => {
  for (const r of readers.splice(0)) r.close();
  await h?.stop();
  h = undefined;
});

async function start(opts: HarnessOptions = {}): Promise<{ h: Harness; base: string }> {
  h = await Harness.start({
    apps: [{ appId: APP, secretEnv: `SECRET_${APP}`, tickets: ["jsapi"] }, { appId: APP2, secretEnv: `SECRET_${APP2}` }],
    ...opts,
    config: { http: { listen: "127.0.0.1:0" }, ...opts.config },
  });
  return { h, base: `http://127.0.0.1:${h.server.httpPort}` };
}

async function call(method: string, url: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await request(url, {
    method: method as "GET",
    headers: body === undefined ? headers : { "content-type": "application/json", ...headers },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text, json: text ? (JSON.parse(text) as Record<string, any>) : {} };
}

describe("the HTTP/JSON API", () => {
  it("answers GetToken with the token gRPC answers, in the proto3 JSON mapping", async () => {
    const { h, base } = await start();
    const grpc = (await h.getToken(APP)).token!;
    const res = await call("GET", `${base}/v1/apps/${APP}/token`);
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toMatch(/^application\/json/);
    expect(res.json.token).toEqual({
      appId: APP,
      accessToken: grpc.accessToken,
      version: "1",
      obtainedAt: grpc.obtainedAt!.toISOString(),
      expiresAt: grpc.expiresAt!.toISOString(),
      refreshAt: grpc.refreshAt!.toISOString(),
      fingerprint: grpc.fingerprint,
      kind: "CREDENTIAL_KIND_ACCESS_TOKEN",
    });
    const ticket = await call("GET", `${base}/v1/apps/${APP}/token?kind=CREDENTIAL_KIND_JSAPI_TICKET`);
    expect(ticket.json.token).toMatchObject({ kind: "CREDENTIAL_KIND_JSAPI_TICKET", accessToken: h.fake.currentTicket(APP, "jsapi") });
  });

  it("does the passive refresh as compare-and-refresh, and takes proto field names too", async () => {
    const { h, base } = await start();
    const stale = (await h.getToken(APP)).token!.accessToken;
    const first = await call("POST", `${base}/v1/apps/${APP}/token:refresh`, { staleToken: stale });
    expect(first.status).toBe(200);
    expect(first.json).toMatchObject({ refreshed: true, token: { version: "2" } });
    const again = await call("POST", `${base}/v1/apps/${APP}/token:refresh`, { stale_token: stale });
    expect(again.json.refreshed).toBeUndefined();
    expect(again.json.token.accessToken).toBe(first.json.token.accessToken);
    expect(h.fake.successfulTokenCalls(APP)).toBe(2);
  });

  it("signs a page for wx.config in one request", async () => {
    const { h, base } = await start();
    const res = await call("POST", `${base}/v1/apps/${APP}/jssdk:sign`, { url: "https://h5.example.com/p?x=1#top" });
    expect(res.status).toBe(200);
    const { timestamp, nonceStr, signature, url } = res.json as { timestamp: string; nonceStr: string; signature: string; url: string };
    const ticket = h.fake.currentTicket(APP, "jsapi")!;
    expect(url).toBe("https://h5.example.com/p?x=1");
    expect(signature).toBe(createHash("sha1").update(`jsapi_ticket=${ticket}&noncestr=${nonceStr}&timestamp=${timestamp}&url=${url}`).digest("hex"));
  });

  it("answers failures with the HTTP status of the gRPC code and a google.rpc.Status body, Retry-After where it says when", async () => {
    const { h, base } = await start({ faults: [{ appId: APP2, errcode: 40164, times: Infinity }] });
    const unknown = await call("GET", `${base}/v1/apps/wx9999999999999999/token`);
    expect(unknown.status).toBe(404);
    expect(unknown.json).toMatchObject({ code: 5, details: [{ "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason: "UNKNOWN_APP", domain: "wxtoken" }] });
    const bad = await call("GET", `${base}/v1/apps/${encodeURIComponent("wx bad!")}/token`);
    expect(bad.status).toBe(400);
    expect(bad.json.details[0].reason).toBe("INVALID_APP_ID");
    const refused = await call("GET", `${base}/v1/apps/${APP2}/token`);
    expect(refused.status).toBe(400);
    expect(refused.json).toMatchObject({ code: 9, details: [{ reason: "WECHAT_ERROR", metadata: { errcode: "40164" } }, { "@type": "type.googleapis.com/google.rpc.RetryInfo" }] });
    expect(Number(refused.headers["retry-after"])).toBeGreaterThan(200);
    expect(refused.text).not.toContain(SECRETS[APP2]);
    // Our own quota guard: 429.
    const same = await call("POST", `${base}/v1/apps/${APP}/token:refresh`, { staleToken: "x".repeat(5000) });
    expect(same.status).toBe(400);
    void h;
  });

  it.each([
    ["an unknown route", "GET", "/v1/nope", undefined, {}, 404, "NO_ROUTE"],
    ["a wrong method", "DELETE", `/v1/apps/${APP}/token`, undefined, {}, 405, "METHOD_NOT_ALLOWED"],
    ["a GET on a POST route", "GET", `/v1/apps/${APP}/token:refresh`, undefined, {}, 405, "METHOD_NOT_ALLOWED"],
    ["a body that is not JSON", "POST", `/v1/apps/${APP}/token:refresh`, "{nope", {}, 400, "INVALID_ARGUMENT"],
    ["a JSON array", "POST", `/v1/apps/${APP}/token:refresh`, "[1]", {}, 400, "INVALID_ARGUMENT"],
    ["another content type", "POST", `/v1/apps/${APP}/token:refresh`, "stale_token=x", { "content-type": "application/x-www-form-urlencoded" }, 415, "NOT_JSON"],
    ["an oversized body", "POST", `/v1/apps/${APP}/token:refresh`, JSON.stringify({ staleToken: "x".repeat(70_000) }), {}, 413, "BODY_TOO_LARGE"],
    ["an unknown field", "POST", `/v1/apps/${APP}/token:refresh`, JSON.stringify({ staleToken: "x", force: true }), {}, 400, "INVALID_ARGUMENT"],
    ["a field of the wrong type", "POST", `/v1/apps/${APP}/token:refresh`, JSON.stringify({ staleToken: 42 }), {}, 400, "INVALID_ARGUMENT"],
    ["an unknown query parameter", "GET", `/v1/apps/${APP}/token?secret=1`, undefined, {}, 400, "INVALID_ARGUMENT"],
    ["an unknown kind", "GET", `/v1/apps/${APP}/token?kind=CREDENTIAL_KIND_NOPE`, undefined, {}, 400, "INVALID_KIND"],
    ["a missing stale token", "POST", `/v1/apps/${APP}/token:refresh`, "{}", {}, 400, "INVALID_STALE_TOKEN"],
  ])("answers %s with a defined status and reason", async (_what, method, path, body, headers, httpStatus, reason) => {
    const { base } = await start();
    const res = await call(method, `${base}${path}`, body, body === undefined ? headers : { "content-type": "application/json", ...headers });
    expect(res.status).toBe(httpStatus);
    expect(res.json.details?.[0]?.reason).toBe(reason);
    if (httpStatus === 405) expect(res.headers.allow).toBeDefined();
  });

  it("authenticates with Authorization: Bearer and applies the same grants", async () => {
    const key = generateApiKey();
    const other = generateApiKey();
    const { base } = await start({
      config: {
        http: { listen: "127.0.0.1:0" },
        auth: { clients: [{ name: "svc", apiKeySha256: hashApiKey(key), read: [APP] }, { name: "signer", apiKeySha256: hashApiKey(other), sign: [APP] }] },
      },
    });
    expect((await call("GET", `${base}/v1/apps/${APP}/token`)).status).toBe(401);
    expect((await call("GET", `${base}/v1/apps/${APP}/token`, undefined, { authorization: "Bearer wrong" })).status).toBe(401);
    expect((await call("GET", `${base}/v1/apps/${APP}/token`, undefined, { authorization: `Bearer ${key}` })).status).toBe(200);
    expect((await call("GET", `${base}/v1/apps/${APP2}/token`, undefined, { authorization: `Bearer ${key}` })).status).toBe(403);
    expect((await call("POST", `${base}/v1/apps/${APP}/token:refresh`, { staleToken: "x" }, { authorization: `Bearer ${key}` })).status).toBe(403);
    // A client that may only sign gets a signature, never the ticket.
    expect((await call("POST", `${base}/v1/apps/${APP}/jssdk:sign`, { url: "https://h5.example.com/" }, { authorization: `Bearer ${other}` })).status).toBe(200);
    expect((await call("GET", `${base}/v1/apps/${APP}/token?kind=CREDENTIAL_KIND_JSAPI_TICKET`, undefined, { authorization: `Bearer ${other}` })).status).toBe(403);
  });
});

describe("server-sent events (WatchToken over HTTP)", () => {
  it("sends the current token at once, then each new version once, with the version as the event id", async () => {
    const { h, base } = await start();
    const first = (await h.getToken(APP)).token!;
    const sse = await openSse(`${base}/v1/apps/${APP}/token:watch`);
    readers.push(sse);
    expect(sse.status).toBe(200);
    expect(sse.headers["content-type"]).toMatch(/^text\/event-stream/);
    await eventually(() => expect(sse.events).toHaveLength(1));
    expect(sse.events[0]).toMatchObject({ id: "1", event: "token" });
    expect(JSON.parse(sse.events[0]!.data).token.accessToken).toBe(first.accessToken);
    const rotated = (await h.forceRefresh(APP, first.accessToken)).token!;
    await eventually(() => expect(sse.events.map((e) => e.id)).toEqual(["1", "2"]));
    expect(JSON.parse(sse.events[1]!.data).token.accessToken).toBe(rotated.accessToken);
  });

  it("resumes after Last-Event-ID: nothing the client already has", async () => {
    const { h, base } = await start();
    const first = (await h.getToken(APP)).token!;
    const sse = await openSse(`${base}/v1/apps/${APP}/token:watch`, { "last-event-id": "1" });
    readers.push(sse);
    await h.forceRefresh(APP, first.accessToken);
    await eventually(() => expect(sse.events.map((e) => e.id)).toEqual(["2"]));
  });

  it("sends keepalive comments while idle, on the server's clock", async () => {
    const { h, base } = await start({ config: { http: { listen: "127.0.0.1:0", keepaliveSeconds: 15 } } });
    const sse = await openSse(`${base}/v1/apps/${APP}/token:watch`);
    readers.push(sse);
    await eventually(() => expect(sse.events).toHaveLength(1));
    expect(sse.comments).toEqual([]);
    await h.clock.advance(15_000);
    await eventually(() => expect(sse.comments).toEqual(["keepalive"]));
    await h.clock.advance(15_000);
    await eventually(() => expect(sse.comments).toEqual(["keepalive", "keepalive"]));
  });

  it("refuses a bad subscription with a JSON status, before any stream", async () => {
    const { base } = await start();
    const res = await call("GET", `${base}/v1/apps/wx9999999999999999/token:watch`);
    expect(res.status).toBe(404);
    expect(res.json.details[0].reason).toBe("UNKNOWN_APP");
  });

  it("ends streams cleanly on shutdown with an error event saying SHUTTING_DOWN", async () => {
    const { base } = await start();
    const sse = await openSse(`${base}/v1/apps/${APP}/token:watch`);
    await eventually(() => expect(sse.events).toHaveLength(1));
    await h!.stop();
    h = undefined;
    await sse.ended;
    const last = sse.events.at(-1)!;
    expect(last.event).toBe("error");
    expect(JSON.parse(last.data)).toMatchObject({ code: 14, details: [{ reason: "SHUTTING_DOWN" }, { "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: "1.000s" }] });
  });

  it("gives a reader that stopped reading the newest version when it reads again, each version once, in order", async () => {
    const { h, base } = await start();
    let token = (await h.getToken(APP)).token!.accessToken;
    // A raw socket that sends the request and then reads nothing for a while.
    const socket = connect(h.server.httpPort!, "127.0.0.1");
    await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
    socket.write(`GET /v1/apps/${APP}/token:watch HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n`);
    socket.pause();
    await eventually(() => expect(h!.server.api.watcherCount()).toBe(1));
    for (let i = 0; i < 300; i++) token = (await h.forceRefresh(APP, token)).token!.accessToken;
    const latest = (await h.getToken(APP)).token!.version;
    let text = "";
    socket.on("data", (d: Buffer) => (text += d.toString("utf8")));
    socket.resume();
    await eventually(() => expect(text).toContain(`id: ${latest}\n`), 10_000);
    socket.destroy();
    const ids = [...text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
    for (let i = 1; i < ids.length; i++) expect(ids[i]!).toBeGreaterThan(ids[i - 1]!);
    expect(ids.at(-1)).toBe(latest);
    expect(new Set(ids).size).toBe(ids.length);
  });
});

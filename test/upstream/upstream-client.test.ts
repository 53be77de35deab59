import { spawn } from "node:child_process";
import { once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { connect, type AddressInfo, type Socket } from "node:net";
import { inspect } from "node:util";
import { MockAgent } from "undici";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { Secret } from "../../src/secret.js";
import { UpstreamTransportError, WeChatError } from "../../src/upstream/errors.js";
import type { AppCredentials } from "../../src/upstream/types.js";
import { WeChatClient } from "../../src/upstream/wechat-client.js";

// Characters that URL and JSON encoding change, so echoes in encoded form are caught too.
const SECRET = "S3cr3t+K/y=v&lu~e\"0a1b2c3d";
const TOKEN = "ACCESS_TOKEN_abc123";
const secretForms = [SECRET, encodeURIComponent(SECRET), new URLSearchParams({ s: SECRET }).toString().slice(2), JSON.stringify(SECRET).slice(1, -1)];
const app = (endpoint: AppCredentials["endpoint"] = "token"): AppCredentials => ({ appId: "wx1234567890abcdef", secret: new Secret(SECRET), endpoint });

interface Seen { method: string; url: URL; headers: IncomingMessage["headers"]; body: string; port: number }
type Handler = (req: IncomingMessage, res: ServerResponse, seen: Seen) => void;

let server: Server;
let base: string;
let handler: Handler;
let seen: Seen[];
let client: WeChatClient;

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const s: Seen = { method: req.method ?? "", url: new URL(req.url ?? "/", "http://x"), headers: req.headers, body: Buffer.concat(chunks).toString(), port: req.socket.remotePort ?? 0 };
      seen.push(s);
      handler(req, res, s);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
beforeEach(() => {
  seen = [];
  handler = (_req, res) => send(res, { access_token: TOKEN, expires_in: 7200 });
  client = new WeChatClient({ baseUrl: base, timeoutMs: 1000 });
});
afterEach(async () => {
  await client.close();
  server.closeAllConnections();
});

function send(res: ServerResponse, body: unknown, contentType: string | null = "application/json; encoding=utf-8", status = 200): void {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  res.writeHead(status, contentType === null ? {} : { "content-type": contentType });
  res.end(text);
}
const reply = (body: unknown, contentType?: string | null, status?: number): Handler => (_req, res) => send(res, body, contentType, status);

/** Awaits a rejection and checks that no form of the secret (or the token) is anywhere in it. */
async function failure(p: Promise<unknown>): Promise<Error> {
  const err: unknown = await p.then(() => { throw new Error("expected a rejection"); }, (e: unknown) => e);
  expect(err).toBeInstanceOf(Error);
  const e = err as Error;
  const texts = [String(e), e.message, e.stack ?? "", JSON.stringify(e), inspect(e, { showHidden: true, depth: 10 })];
  for (const text of texts) for (const form of [...secretForms, TOKEN]) expect(text).not.toContain(form);
  return e;
}
async function transport(p: Promise<unknown>, code: UpstreamTransportError["code"], endpoint = "/cgi-bin/token") {
  const err = await failure(p);
  expect(err).toBeInstanceOf(UpstreamTransportError);
  expect(err).toMatchObject({ code, kind: "transient", endpoint });
  return err as UpstreamTransportError;
}

describe("fetchToken success", () => {
  it("GET /cgi-bin/token with grant_type, appid, secret in the query", async () => {
    handler = reply({ access_token: TOKEN, expires_in: 7000 });
    await expect(client.fetchToken(app())).resolves.toEqual({ accessToken: TOKEN, expiresIn: 7000 });
    expect(seen).toHaveLength(1);
    const [s] = seen;
    expect(s?.method).toBe("GET");
    expect(s?.url.pathname).toBe("/cgi-bin/token");
    expect(Object.fromEntries(s?.url.searchParams ?? [])).toEqual({ grant_type: "client_credential", appid: "wx1234567890abcdef", secret: SECRET });
  });

  it.each([false, true])("POST /cgi-bin/stable_token with a JSON body, force_refresh %s", async (force) => {
    handler = reply({ access_token: TOKEN, expires_in: 6789 });
    await expect(client.fetchToken(app("stable_token"), { forceRefresh: force })).resolves.toEqual({ accessToken: TOKEN, expiresIn: 6789 });
    const [s] = seen;
    expect(s?.method).toBe("POST");
    expect(s?.url.pathname).toBe("/cgi-bin/stable_token");
    expect(s?.url.search).toBe("");
    expect(s?.headers["content-type"]).toBe("application/json");
    expect(JSON.parse(s?.body ?? "")).toEqual({ grant_type: "client_credential", appid: "wx1234567890abcdef", secret: SECRET, force_refresh: force });
  });

  it("stable_token sends force_refresh false when not asked", async () => {
    await client.fetchToken(app("stable_token"));
    expect(JSON.parse(seen[0]?.body ?? "").force_refresh).toBe(false);
  });

  it.each(["application/json; encoding=utf-8", "application/json", "text/plain", "text/html; charset=gbk", null])(
    "parses JSON whatever the content-type says: %s",
    async (type) => {
      handler = reply(`\uFEFF{"access_token":"${TOKEN}","expires_in":7200}`, type);
      await expect(client.fetchToken(app())).resolves.toEqual({ accessToken: TOKEN, expiresIn: 7200 });
    },
  );

  it("accepts errcode 0 (WeCom style), a 600-char token, and floors a fractional expires_in", async () => {
    const long = "a".repeat(600);
    handler = reply({ errcode: 0, errmsg: "ok", access_token: long, expires_in: 7199.9 });
    await expect(client.fetchToken(app())).resolves.toEqual({ accessToken: long, expiresIn: 7199 });
  });

  it("keeps the connection alive between requests", async () => {
    await client.fetchToken(app());
    // undici frees the socket a macrotask after the body ends; sooner it would open another.
    await new Promise((resolve) => setImmediate(resolve));
    await client.fetchToken(app());
    expect(seen[0]?.port).toBe(seen[1]?.port);
  });

  it("uses an injected dispatcher and a base path", async () => {
    const mock = new MockAgent();
    mock.disableNetConnect();
    mock.get("https://proxy.example").intercept({ path: (p) => p.startsWith("/wx/cgi-bin/token?"), method: "GET" })
      .reply(200, { access_token: "MOCKED", expires_in: 60 });
    const c = new WeChatClient({ baseUrl: "https://proxy.example/wx/", dispatcher: mock });
    await expect(c.fetchToken(app())).resolves.toEqual({ accessToken: "MOCKED", expiresIn: 60 });
    await c.close();
    await mock.close();
  });
});

describe("fetchToken errcode answers", () => {
  it.each([
    ["token", 40013, "invalid appid rid: 65ecc868-1a2b3c4d-5e6f7a8b", "65ecc868-1a2b3c4d-5e6f7a8b", "permanent"],
    ["token", 40164, "invalid ip 1.2.3.4 ipv6 ::ffff:1.2.3.4, not in whitelist hint: [KJZfAa0644e575]", "KJZfAa0644e575", "admin"],
    ["token", -1, "system error", undefined, "transient"],
    ["stable_token", 45009, "reach max api daily quota limit rid: 6600-aa-bb", "6600-aa-bb", "quota"],
    ["token", 99999, "something new hint: [X1]", "X1", "permanent"],
  ] as const)("%s errcode %d", async (endpoint, errcode, errmsg, rid, kind) => {
    handler = reply({ errcode, errmsg });
    const err = await failure(client.fetchToken(app(endpoint)));
    expect(err).toBeInstanceOf(WeChatError);
    expect(err).toMatchObject({ errcode, errmsg, rid, kind, endpoint: `/cgi-bin/${endpoint}` });
  });

  it("scrubs a secret that WeChat echoes in errmsg, keeping the rid", async () => {
    handler = reply({ errcode: 40125, errmsg: `invalid appsecret ${SECRET} (${encodeURIComponent(SECRET)}) rid: r-1` }, "text/plain");
    const err = (await failure(client.fetchToken(app()))) as WeChatError;
    expect(err.errmsg).toBe("invalid appsecret *** (***) rid: r-1");
    expect(err.rid).toBe("r-1");
  });

  it("accepts a numeric-string errcode, rejects a non-numeric one", async () => {
    handler = reply({ errcode: "40013", errmsg: "invalid appid" });
    expect(await failure(client.fetchToken(app()))).toMatchObject({ errcode: 40013 });
    handler = reply({ errcode: "oops", errmsg: "?" });
    await transport(client.fetchToken(app()), "BAD_BODY");
  });
});

describe("fetchToken bad answers", () => {
  it.each([500, 502, 302])("HTTP %d is HTTP_STATUS, with a short scrubbed excerpt", async (status) => {
    handler = reply(`<html>${SECRET} ${"x".repeat(5000)}</html>`, "text/html", status);
    const err = await transport(client.fetchToken(app()), "HTTP_STATUS");
    expect(err.message).toContain(`HTTP ${status}`);
    expect(err.message).toContain("***");
    expect(err.message.length).toBeLessThan(250);
  });

  it("a garbage body echoing the request URL is BAD_BODY without the secret", async () => {
    handler = (req, res) => send(res, `<html>bad request ${req.url}</html>`, "text/html");
    const err = await transport(client.fetchToken(app()), "BAD_BODY");
    expect(err.message).toContain("bad request /cgi-bin/token?grant_type=client_credential&appid=wx1234567890abcdef&secret=***");
  });

  it.each([["[]"], ["null"], ['"str"'], ["42"], ['{"foo":1}'], ['{"access_token":123,"expires_in":7200}'], ['{"expires_in":7200}']])(
    "wrong shape %s is BAD_BODY",
    async (body) => {
      handler = reply(body);
      await transport(client.fetchToken(app()), "BAD_BODY");
    },
  );

  it("a body over 1 MiB is BAD_BODY", async () => {
    handler = reply(`{"access_token":"${"a".repeat(2 * 1024 * 1024)}","expires_in":7200}`);
    await transport(client.fetchToken(app()), "BAD_BODY");
  });

  it.each([
    ["empty token", { access_token: "", expires_in: 7200 }],
    ["token over maxTokenLength", { access_token: "a".repeat(101), expires_in: 7200 }],
    ["token with whitespace", { access_token: "abc def", expires_in: 7200 }],
    ["expires_in 0", { access_token: TOKEN, expires_in: 0 }],
    ["expires_in 0.5", { access_token: TOKEN, expires_in: 0.5 }],
    ["expires_in negative", { access_token: TOKEN, expires_in: -5 }],
    ["expires_in missing", { access_token: TOKEN }],
    ["expires_in string", { access_token: TOKEN, expires_in: "7200" }],
    ["expires_in null", { access_token: TOKEN, expires_in: null }],
    ["expires_in over a day", { access_token: TOKEN, expires_in: 86_401 }],
  ])("%s is ABSURD_TOKEN", async (_name, body) => {
    const c = new WeChatClient({ baseUrl: base, maxTokenLength: 100 });
    handler = reply(body);
    await transport(c.fetchToken(app()), "ABSURD_TOKEN").finally(() => c.close());
  });

  it("a token of exactly maxTokenLength is fine", async () => {
    const c = new WeChatClient({ baseUrl: base, maxTokenLength: 100 });
    handler = reply({ access_token: "a".repeat(100), expires_in: 86_400 });
    await expect(c.fetchToken(app())).resolves.toMatchObject({ expiresIn: 86_400 });
    await c.close();
  });
});

describe("fetchToken transport failures", () => {
  it("a closed port is CONNECT", async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const c = new WeChatClient({ baseUrl: `http://127.0.0.1:${port}` });
    const err = await transport(c.fetchToken(app()), "CONNECT").finally(() => c.close());
    expect(err.message).toContain("ECONNREFUSED");
  });

  it.each([
    ["never answers", (() => undefined) as Handler],
    ["stalls mid-body", ((_req, res) => { res.writeHead(200, { "content-length": "100" }); res.write('{"access_token":'); }) as Handler],
  ])("a server that %s is TIMEOUT within timeoutMs", async (_name, h) => {
    handler = h;
    const c = new WeChatClient({ baseUrl: base, timeoutMs: 200 });
    const started = performance.now();
    await transport(c.fetchToken(app()), "TIMEOUT").finally(() => c.close());
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(150);
    expect(elapsed).toBeLessThan(800);
  });

  it("a connect that never completes is CONNECT after connectTimeoutMs, not timeoutMs (the request never left: nothing was issued)", async () => {
    // A listener whose process never accepts (its thread sleeps in Atomics.wait): once its
    // accept queue is full the kernel drops further SYNs, so a connect hangs, even on loopback.
    const listener = spawn(process.execPath, ["-e", `require("net").createServer().listen({ port: 0, host: "127.0.0.1", backlog: 1 }, function () {
      require("fs").writeSync(1, this.address().port + "\\n"); Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0); })`], { stdio: ["ignore", "pipe", "inherit"] });
    const fillers: Socket[] = [];
    try {
      const port = Number(String((await once(listener.stdout, "data"))[0]).trim());
      // Fill the queue: connect until one is still pending after 500 ms (a dropped SYN is retried after 1 s).
      for (let connected = true; connected && fillers.length < 64; ) {
        const s = connect(port, "127.0.0.1").on("error", () => undefined);
        fillers.push(s);
        connected = await Promise.race([once(s, "connect").then(() => true), new Promise<boolean>((r) => setTimeout(r, 500, false))]);
      }
      const c = new WeChatClient({ baseUrl: `http://127.0.0.1:${port}`, connectTimeoutMs: 300, timeoutMs: 8000 });
      const started = performance.now();
      const err = await transport(c.fetchToken(app()), "CONNECT").finally(() => c.close());
      expect(err.message).toMatch(/UND_ERR_CONNECT_TIMEOUT/);
      // undici's connect timer ticks about once a second; well before timeoutMs all the same.
      expect(performance.now() - started).toBeLessThan(4000);
    } finally {
      for (const s of fillers) s.destroy();
      listener.kill("SIGKILL");
    }
  });

  it.each([
    ["before answering", ((req) => req.socket.destroy()) as Handler],
    ["mid-response", ((_req, res) => {
      res.writeHead(200, { "content-length": "500" });
      res.write('{"access_token":"');
      setTimeout(() => res.socket?.destroy(), 20);
    }) as Handler],
  ])("a socket destroyed %s is CONNECT", async (_name, h) => {
    handler = h;
    await transport(client.fetchToken(app()), "CONNECT");
  });

  it("a caller abort mid-request rejects with the abort, not a transport error", async () => {
    handler = () => undefined;
    const ctl = new AbortController();
    setTimeout(() => ctl.abort(), 50);
    const err = await failure(client.fetchToken(app(), { signal: ctl.signal }));
    expect(err.name).toBe("AbortError");
    expect(err).not.toBeInstanceOf(UpstreamTransportError);
  });

  it("an already-aborted signal sends nothing; a custom reason is rethrown", async () => {
    const reason = new Error("shutting down");
    const err = await failure(client.fetchToken(app("stable_token"), { signal: AbortSignal.abort(reason) }));
    expect(err).toBe(reason);
    expect(seen).toHaveLength(0);
  });

  it("after close(), a request fails as CONNECT", async () => {
    await client.close();
    await transport(client.fetchToken(app()), "CONNECT");
  });
});

describe("callApi", () => {
  it("GET with access_token and query, returns the parsed body", async () => {
    handler = reply({ ip_list: ["106.55.206.146", "101.226.103.0/25"] }, "text/plain");
    const out = await client.callApi<{ ip_list: string[] }>("/cgi-bin/getcallbackip", TOKEN, { query: { lang: "zh_CN" } });
    expect(out.ip_list).toEqual(["106.55.206.146", "101.226.103.0/25"]);
    const [s] = seen;
    expect(s?.method).toBe("GET");
    expect(s?.url.pathname).toBe("/cgi-bin/getcallbackip");
    expect(Object.fromEntries(s?.url.searchParams ?? [])).toEqual({ lang: "zh_CN", access_token: TOKEN });
  });

  it("POSTs a JSON body; errcode 0 / ok is success", async () => {
    const answer = { errcode: 0, errmsg: "ok", quota: { daily_limit: 2000, used: 12, remain: 1988 } };
    handler = reply(answer);
    await expect(client.callApi("/cgi-bin/openapi/quota/get", TOKEN, { body: { cgi_path: "/cgi-bin/token" } })).resolves.toEqual(answer);
    expect(seen[0]?.method).toBe("POST");
    expect(JSON.parse(seen[0]?.body ?? "")).toEqual({ cgi_path: "/cgi-bin/token" });
  });

  it.each([
    [40001, "invalid credential, access_token is invalid or not latest rid: 65ecc868-1a2b3c4d-5e6f7a8b", "65ecc868-1a2b3c4d-5e6f7a8b"],
    [40014, "invalid access_token hint: [Zx9kLa0]", "Zx9kLa0"],
    [42001, "access_token expired rid: 1-2-3", "1-2-3"],
  ])("errcode %d is a WeChatError", async (errcode, errmsg, rid) => {
    handler = reply({ errcode, errmsg });
    const err = await failure(client.callApi("/cgi-bin/getcallbackip", TOKEN));
    expect(err).toBeInstanceOf(WeChatError);
    expect(err).toMatchObject({ errcode, errmsg, rid, kind: "permanent", endpoint: "/cgi-bin/getcallbackip" });
  });

  it("HTTP 502 and garbage echoing the URL keep the token out of the error", async () => {
    handler = (req, res) => send(res, `upstream error ${req.url}`, "text/plain", 502);
    await transport(client.callApi("/cgi-bin/getcallbackip", TOKEN), "HTTP_STATUS", "/cgi-bin/getcallbackip");
    handler = (req, res) => send(res, `oops ${req.url}`, "text/plain");
    const err = await transport(client.callApi("/cgi-bin/getcallbackip", TOKEN), "BAD_BODY", "/cgi-bin/getcallbackip");
    expect(err.message).toContain("access_token=***");
  });
});

describe("excerpts of bad answers", () => {
  it("mask a token or ticket a mangled answer carries, keeping the shape readable", async () => {
    const { excerpt } = await import("../../src/upstream/response.js");
    const ticket = "sM4A" + "x9_Y-".repeat(16);
    const text = excerpt(`{"errcode":0,"errmsg":"ok","ticket":"${ticket}`, (t) => t);
    expect(text).not.toContain(ticket.slice(0, 32));
    expect(text).toContain(`[${ticket.length} chars]`);
  });
});

/**
 * The client library over the HTTP API (HttpTokenClient, and TokenSource with
 * `url`): the watch is a server-sent event stream. Against the real server's
 * HTTP listener and the fake WeChat: the same tokens and the same errors
 * (code, reason, info) as over gRPC.
 */
import { status } from "@grpc/grpc-js";
import { createServer, type RequestListener, type Server } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import type { Token } from "../../generated/wxtoken/v1/token_service.js";
import { generateApiKey, hashApiKey } from "../../src/auth/api-key.js";
import { HttpTokenClient, TokenServiceError, TokenSource, type TokenSourceOptions } from "../../src/index.js";
import { APP, APP2, eventually, Harness, type HarnessOptions } from "../support/harness.js";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function start(opts: HarnessOptions = {}): Promise<{ h: Harness; url: string }> {
  const h = await Harness.start({
    apps: [{ appId: APP, secretEnv: `SECRET_${APP}`, tickets: ["jsapi"] }, { appId: APP2, secretEnv: `SECRET_${APP2}` }],
    ...opts,
    config: { http: { listen: "127.0.0.1:0" }, ...opts.config },
  });
  cleanups.push(() => h.stop());
  return { h, url: `http://127.0.0.1:${h.server.httpPort}` };
}

function client(url: string, headers?: Record<string, string>): HttpTokenClient {
  const c = new HttpTokenClient(url, { headers });
  cleanups.push(() => c.close());
  return c;
}

async function source(h: Harness, url: string, opts: Partial<TokenSourceOptions> = {}): Promise<TokenSource> {
  const s = await TokenSource.create({ url, appId: APP, clock: h.clock, random: () => 0.5, ...opts });
  cleanups.push(() => s.close());
  return s;
}

/** A stand-in HTTP server on a free loopback port, closed (its connections too) after the test; resolves with its base URL. */
async function serve(handler: RequestListener): Promise<string> {
  const server: Server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  cleanups.push(
    () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(r);
      }),
  );
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

async function rejection(p: Promise<unknown>): Promise<TokenServiceError> {
  const err = await p.then(
    () => expect.fail("expected a rejection"),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TokenServiceError);
  return err as TokenServiceError;
}

describe("HttpTokenClient", () => {
  it("getToken and forceRefresh answer what gRPC answers, tickets included", async () => {
    const { h, url } = await start();
    const c = client(url);
    const grpc = (await h.getToken(APP)).token!;
    expect(await c.getToken(APP)).toEqual(grpc);
    const ticket = await c.getToken(APP, { kind: "jsapi_ticket" });
    expect(ticket.accessToken).toBe(h.fake.currentTicket(APP, "jsapi"));

    const forced = await c.forceRefresh(APP, grpc.accessToken);
    expect(forced.refreshed).toBe(true);
    expect(forced.token.version).toBe(2);
    expect(h.fake.isValid(APP, forced.token.accessToken)).toBe(true);
  });

  it("errors carry the gRPC code, reason and info from the JSON google.rpc.Status", async () => {
    const { h, url } = await start();
    const c = client(url);
    const unknown = await rejection(c.getToken("wx9999999999999999"));
    expect(unknown).toMatchObject({ code: status.NOT_FOUND, method: "GetToken", reason: "UNKNOWN_APP" });
    expect(unknown.info).toMatchObject({ app_id: "wx9999999999999999" });
    // The same error over gRPC, for comparison.
    const viaGrpc = await h.getToken("wx9999999999999999").catch((e: { code: number }) => e);
    expect((viaGrpc as { code: number }).code).toBe(unknown.code);

    const watch = await rejection((async () => {
      for await (const _ of c.watch("wx9999999999999999")) expect.fail("no token for an unknown app");
    })());
    expect(watch).toMatchObject({ code: status.NOT_FOUND, method: "WatchToken", reason: "UNKNOWN_APP" });
  });

  it("a server that cannot be reached is UNAVAILABLE; one that answers no google.rpc.Status gets the HTTP status's meaning", async () => {
    const refused = await rejection(client("http://127.0.0.1:9").getToken(APP));
    expect(refused.code).toBe(status.UNAVAILABLE);

    const proxy = await serve((_req, res) => res.writeHead(502, { "content-type": "text/html" }).end("<html>Bad Gateway</html>"));
    const bad = await rejection(client(proxy).getToken(APP));
    expect(bad).toMatchObject({ code: status.UNAVAILABLE, reason: undefined });
    expect(bad.details).toContain("HTTP 502");
  });

  it("reads events split anywhere: CRLF line ends cut in two, a multi-byte character cut in two, comments and retry lines", async () => {
    const token = (version: number) => ({ appId: APP, accessToken: `令牌-${version}`, version: String(version), fingerprint: `fp${version}`, expiresAt: "2030-01-01T00:00:00Z" });
    const wire = Buffer.from(
      `retry: 1000\r\n\r\n: keepalive\r\n\r\nid: 1\r\nevent: token\r\ndata: ${JSON.stringify({ token: token(1) })}\r\n\r\n` +
        `id: 2\nevent: token\ndata: ${JSON.stringify({ token: token(2) })}\n\n`,
    );
    // Cut after the first CR of a CRLF, right after "event: token\r", inside the bytes of 令, and inside the blank line that ends an event.
    const cuts = [wire.indexOf("\r"), wire.indexOf("event: token\r") + "event: token\r".length, wire.indexOf(Buffer.from("令")) + 1, wire.lastIndexOf("\r\n\r\n") + 3];
    const base = await serve((_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      let at = 0;
      for (const cut of [...cuts, wire.length]) {
        res.write(wire.subarray(at, cut));
        at = cut;
      }
    });
    const stop = new AbortController();
    const seen: Token[] = [];
    for await (const t of client(base).watch(APP, { signal: stop.signal })) {
      seen.push(t);
      if (seen.length === 2) stop.abort();
    }
    expect(seen.map((t) => [t.version, t.accessToken])).toEqual([
      [1, "令牌-1"],
      [2, "令牌-2"],
    ]);
  });

  it("return() ends a watch at once, even while a read waits for the next token", async () => {
    const { h, url } = await start();
    const watch = client(url).watch(APP);
    expect((await watch.next()).value).toMatchObject({ version: 1 });
    const pending = watch.next();
    await eventually(() => expect(h.server.api.watcherCount()).toBe(1));
    expect(await watch.return()).toEqual({ done: true, value: undefined });
    expect(await pending).toEqual({ done: true, value: undefined });
    await eventually(() => expect(h.server.api.watcherCount()).toBe(0));
  });

  it("a watch that hears nothing for watchIdleMs (a dead connection) fails with UNAVAILABLE; a 200 that is not an event stream too", async () => {
    const base = await serve((req, res) => {
      if (req.url!.includes("wx0000000000000002")) return res.writeHead(200, { "content-type": "text/html" }).end("<html>captive portal</html>");
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write("retry: 1000\n\n"); // then nothing, ever
    });
    const c = new HttpTokenClient(base, { watchIdleMs: 200 });
    cleanups.push(() => c.close());
    const idle = await rejection(c.watch("wx0000000000000001").next());
    expect(idle.code).toBe(status.UNAVAILABLE);
    const portal = await rejection(c.watch("wx0000000000000002").next());
    expect(portal.code).toBe(status.UNAVAILABLE);
    expect(portal.details).toMatch(/not an event stream/);
  });

  it("sends its headers: an API key the server checks", async () => {
    const key = generateApiKey();
    const { url } = await start({ config: { auth: { clients: [{ name: "svc", apiKeySha256: hashApiKey(key), read: [APP] }] } } });
    const denied = await rejection(client(url).getToken(APP));
    expect(denied.code).toBe(status.UNAUTHENTICATED);
    expect((await client(url, { authorization: `Bearer ${key}` }).getToken(APP)).appId).toBe(APP);
  });

  it("watch yields the current token, then each new one; knownVersion skips what is held", async () => {
    const { h, url } = await start();
    const c = client(url);
    const stop = new AbortController();
    const seen: Token[] = [];
    let opened = false;
    const done = (async () => {
      for await (const t of c.watch(APP, { signal: stop.signal, onOpen: () => (opened = true) })) seen.push(t);
    })();
    await eventually(() => expect(seen.map((t) => t.version)).toEqual([1]));
    expect(opened).toBe(true);
    await h.forceRefresh(APP, seen[0]!.accessToken);
    await eventually(() => expect(seen.map((t) => t.version)).toEqual([1, 2]));
    expect(seen[1]!.accessToken).toBe((await h.getToken(APP)).token!.accessToken);
    stop.abort();
    await done; // the signal ends it without an error
    await eventually(() => expect(h.server.api.watcherCount()).toBe(0));

    const resumed: Token[] = [];
    const again = new AbortController();
    const second = (async () => {
      for await (const t of c.watch(APP, { knownVersion: 2, knownFingerprint: seen[1]!.fingerprint, signal: again.signal })) resumed.push(t);
    })();
    await eventually(() => expect(h.server.api.watcherCount()).toBe(1));
    await h.forceRefresh(APP, seen[1]!.accessToken);
    await eventually(() => expect(resumed.map((t) => t.version)).toEqual([3]));
    again.abort();
    await second;
  });
});

describe("TokenSource over the HTTP API (url)", () => {
  it("holds the token from the event stream, follows rotations, and forceRefresh adopts the answer", async () => {
    const { h, url } = await start();
    const s = await source(h, url);
    expect(s.token()).toBe((await h.getToken(APP)).token!.accessToken);
    expect(h.server.api.watcherCount()).toBe(1);
    const updates: number[] = [];
    s.onUpdate((t) => updates.push(t.version));
    await h.forceRefresh(APP, s.token());
    await eventually(() => expect(s.current().version).toBe(2));
    const forced = await s.forceRefresh(s.token());
    expect(forced.refreshed).toBe(true);
    expect(s.current().version).toBe(3);
    await eventually(() => expect(updates).toEqual([2, 3]));
    expect(h.fake.isValid(APP, s.token())).toBe(true);
  });

  it("an unknown app rejects create() at once, with the server's reason", async () => {
    const { h, url } = await start();
    const err = await rejection(TokenSource.create({ url, appId: "wx9999999999999999", clock: h.clock, timeoutMs: 60_000 }));
    expect(err).toMatchObject({ code: status.NOT_FOUND, reason: "UNKNOWN_APP" });
  });

  it("a server shutdown ends the stream with SHUTTING_DOWN; the source keeps serving from memory and tries again after its backoff", async () => {
    const first = await start();
    const s = await source(first.h, first.url, { backoff: { initialMs: 1000, maxMs: 1000, jitter: 0 } });
    const errors: { reason: string | undefined; retryInMs: number }[] = [];
    s.onError((err, retryInMs) => errors.push({ reason: err.reason, retryInMs }));
    const held = s.current();
    await first.h.server.shutdown(500);
    await eventually(() => expect(errors[0]).toEqual({ reason: "SHUTTING_DOWN", retryInMs: 1000 }));
    // Still served from memory while the server is away.
    expect(s.token()).toBe(held.accessToken);
    await first.h.clock.advance(999);
    expect(errors).toHaveLength(1);
    await first.h.clock.advance(1);
    // The next attempt finds nobody listening.
    await eventually(() => expect(errors[1]).toEqual({ reason: undefined, retryInMs: 1000 }));
  });

  it("exactly one of address, url or client", async () => {
    await expect(TokenSource.create({ appId: APP, url: "http://127.0.0.1:1", address: "127.0.0.1:1" })).rejects.toThrow(/exactly one of address, url or client/);
    await expect(TokenSource.create({ appId: APP })).rejects.toThrow(/exactly one of address, url or client/);
  });
});

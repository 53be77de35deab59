/**
 * A listener full of busy connections refuses new ones, counted and logged
 * once (then once a minute with a count); and the documented timeouts, with
 * short configured values: a silent or half-sent request is cut, an idle
 * connection closed, on every listener, and a gRPC connection that never
 * calls too. Each wait is bounded by `eventually`; none asserts a speed.
 */
import { connect, type Socket } from "node:net";
import { Agent, request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { GetTokenRequest, TokenServiceClient, WatchTokenRequest } from "../../generated/wxtoken/v1/token_service.js";
import { TestCa, tlsCredentials } from "../support/auth.js";
import { APP, collect, eventually, Harness } from "../support/harness.js";
import { IdleFlood, sample } from "../support/flood.js";
import { RawH2Client } from "../support/raw-h2.js";
import { openSse } from "../support/sse.js";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function start(connections: object, extra: object = {}): Promise<Harness> {
  const h = await Harness.start({ config: { http: { listen: "127.0.0.1:0" }, metrics: { listen: "127.0.0.1:0" }, connections, ...extra } });
  cleanups.push(() => h.stop());
  return h;
}

async function metric(h: Harness, name: string, listener: string): Promise<number | undefined> {
  return sample(await h.server.metrics!.scrape(), name, { listener });
}

/** An HTTP/2 connection with a WatchToken stream open (a busy connection), once the current token has come. */
async function watching(port: number): Promise<RawH2Client> {
  const c = await RawH2Client.connect(port);
  cleanups.push(() => c.destroy());
  const id = c.unary("/wxtoken.v1.TokenService/WatchToken", [], Buffer.from(WatchTokenRequest.encode(WatchTokenRequest.fromPartial({ appId: APP })).finish()));
  await eventually(() => expect(c.messages(id).length).toBeGreaterThan(0));
  return c;
}

/** A raw TCP connection to a port; `closed` resolves when the server closes it. */
async function raw(port: number, send?: string): Promise<{ socket: Socket; closed: Promise<void> }> {
  const socket = connect({ port, host: "127.0.0.1" });
  cleanups.push(() => socket.destroy());
  socket.on("error", () => undefined);
  socket.resume();
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  await new Promise((resolve) => socket.once("connect", resolve));
  if (send !== undefined) socket.write(send);
  return { socket, closed };
}

/** Whether p settles within ms (a bound for the test, not an assertion on speed). */
function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  return Promise.race([p.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);
}

describe("a listener whose connections are all busy", () => {
  it("refuses new connections, counts them, and logs one line, then one a minute with a count", async () => {
    const h = await start({ http: { maxConnections: 4 }, grpc: { maxConnections: 4 } });
    const httpPort = h.server.httpPort!;
    const streams = [];
    for (let i = 0; i < 4; i++) {
      const s = await openSse(`http://127.0.0.1:${httpPort}/v1/apps/${APP}/token:watch`);
      cleanups.push(() => s.close());
      await eventually(() => expect(s.events.length).toBe(1));
      streams.push(s);
    }
    for (let i = 0; i < 4; i++) await watching(h.port);

    const httpFlood = await IdleFlood.open(httpPort, 5);
    const grpcFlood = await IdleFlood.open(h.port, 3);
    cleanups.push(() => httpFlood.destroy(), () => grpcFlood.destroy());
    await eventually(() => expect([httpFlood.closed, grpcFlood.closed]).toEqual([5, 3]));
    expect(await metric(h, "wxtoken_connections_refused_total", "http")).toBe(5);
    expect(await metric(h, "wxtoken_connections_refused_total", "grpc")).toBe(3);
    expect(await metric(h, "wxtoken_connections_evicted_total", "http")).toBe(0);
    expect(await metric(h, "wxtoken_connections", "http")).toBe(4);
    // The busy connections were left alone.
    expect(streams.every((s) => s.status === 200)).toBe(true);
    expect(await within(Promise.race(streams.map((s) => s.ended)), 100)).toBe(false);

    const warned = () => h.logs.lines.map((l) => JSON.parse(l)).filter((l) => l.level === 40 && /listener (still )?full/.test(l.msg));
    expect(warned().map((l) => [l.listener, l.refused])).toEqual([["http", 1], ["grpc", 1]]);
    await h.clock.advance(60_000);
    expect(warned().slice(2).map((l) => [l.listener, l.refused, l.evicted])).toEqual([["http", 4, 0], ["grpc", 2, 0]]);
    // A quiet minute closes the window without a line.
    await h.clock.advance(60_000);
    expect(warned()).toHaveLength(4);

    // A stream that ends makes room again.
    streams[0]!.close();
    await eventually(async () => expect(await metric(h, "wxtoken_connections", "http")).toBe(3));
    // On its own dispatcher: the streams' pool reconnects the moment one is aborted, while the listener is still full.
    const agent = new Agent();
    cleanups.push(() => agent.close());
    const res = await request(`http://127.0.0.1:${httpPort}/v1/apps/${APP}/token`, { dispatcher: agent });
    expect(res.statusCode).toBe(200);
    await res.body.text();
  });
});

describe("timeouts, with short configured values", () => {
  it("gRPC: a connection that starts no call is closed; one idle after its calls too, even if the client never closes its side", async () => {
    const h = await start({ grpc: { firstCallSeconds: 1, idleSeconds: 2.5 } });
    const silent = await raw(h.port);
    const prefaceOnly = await RawH2Client.connect(h.port);
    cleanups.push(() => prefaceOnly.destroy());
    const caller = await RawH2Client.connect(h.port);
    cleanups.push(() => caller.destroy());
    const id = caller.unary("/wxtoken.v1.TokenService/GetToken", [], Buffer.from(GetTokenRequest.encode(GetTokenRequest.fromPartial({ appId: APP })).finish()));

    expect(await within(silent.closed, 10_000)).toBe(true);
    expect(await within(prefaceOnly.serverEnded, 10_000)).toBe(true);
    // The first-call timer has passed; the connection that called is still open.
    expect(caller.ended(id)).toBe(true);
    expect(caller.gotGoaway()).toBe(false);

    // Idle: GOAWAY and FIN; the server lets go of the socket although this side never closes.
    expect(await within(caller.serverEnded, 10_000)).toBe(true);
    expect(caller.gotGoaway()).toBe(true);
    await eventually(async () => expect(await metric(h, "wxtoken_connections", "grpc")).toBe(0), 5_000);
  });

  it.each(["http", "receiver", "metrics"] as const)("%s: silent and half-sent headers are cut, an idle keep-alive connection closed", async (listener) => {
    const limits = { headersSeconds: 0.5, idleSeconds: 0.5 };
    const platform = {
      apps: [],
      openPlatform: {
        receiver: { listen: "127.0.0.1:0" },
        platforms: [{ componentAppId: "wxcomponent0000001", secret: "s", messageToken: "t", encodingAesKey: "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG" }],
      },
    };
    const h = await start({ [listener]: limits }, listener === "receiver" ? platform : {});
    const port = { http: h.server.httpPort, receiver: h.server.receiverPort, metrics: h.server.metricsPort }[listener]!;
    const silent = await raw(port);
    const halfHeaders = await raw(port, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    const idle = await raw(port, "GET /nothing-here HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    for (const c of [silent, halfHeaders, idle]) expect(await within(c.closed, 10_000)).toBe(true);
    await eventually(async () => expect(await metric(h, "wxtoken_connections", listener)).toBe(0), 5_000);
  });

  it("an event stream is not cut by the idle or headers timeouts", async () => {
    const h = await start({ http: { headersSeconds: 0.2, idleSeconds: 0.2 } });
    const s = await openSse(`http://127.0.0.1:${h.server.httpPort}/v1/apps/${APP}/token:watch`);
    cleanups.push(() => s.close());
    await eventually(() => expect(s.events.length).toBe(1));
    expect(await within(s.ended, 1500)).toBe(false);
  });

  it("with TLS: a stalled handshake is cut on both ports; a connection with a stream open is never closed for room", async () => {
    const ca = new TestCa("limits-ca");
    cleanups.push(() => ca.dispose());
    const pair = ca.serverCert();
    const h = await start({ grpc: { maxConnections: 3, firstCallSeconds: 1 }, http: { headersSeconds: 1 } }, { tls: { certFile: pair.cert, keyFile: pair.key } });
    const client = new TokenServiceClient(`127.0.0.1:${h.port}`, tlsCredentials(ca), { "grpc.ssl_target_name_override": "localhost" });
    cleanups.push(() => client.close());
    const stream = client.watchToken(WatchTokenRequest.fromPartial({ appId: APP }));
    cleanups.push(() => stream.cancel());
    const watch = collect(stream);
    await eventually(() => expect(watch.messages).toHaveLength(1));

    const grpcSilent = await raw(h.port);
    const httpsSilent = await raw(h.server.httpPort!);
    for (const c of [grpcSilent, httpsSilent]) expect(await within(c.closed, 10_000)).toBe(true);
    // Full: idle connections make room, the one under the TLS stream (found through the TLS socket) is busy.
    const flood = await IdleFlood.open(h.port, 4);
    cleanups.push(() => flood.destroy());
    await eventually(() => expect(flood.closed).toBe(3));
    expect(await metric(h, "wxtoken_connections_evicted_total", "grpc")).toBe(3);
    expect(await within(watch.ended, 200)).toBe(false);
  });
});

/**
 * Bad and hostile input: each gets a defined status code, and the server stays
 * up and keeps serving everyone else.
 */
import { credentials, makeGenericClientConstructor, Metadata, status, type ServiceError } from "@grpc/grpc-js";
import { connect, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { GetTokenResponse, TokenServiceClient, type WatchTokenResponse } from "../../generated/wxtoken/v1/token_service.js";
import { APP, APP2, eventually, grpcError, Harness } from "../support/harness.js";
import { countWrites } from "../support/watch-writes.js";

let h: Harness | undefined;
const extra: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of extra.splice(0).reverse()) await c();
  await h?.stop();
  h = undefined;
});

/** A client that sends whatever bytes it is given as a GetTokenRequest. */
function rawClient(port: number): { call: (bytes: Buffer) => Promise<GetTokenResponse> } {
  const Raw = makeGenericClientConstructor(
    {
      getToken: {
        path: "/wxtoken.v1.TokenService/GetToken",
        requestStream: false,
        responseStream: false,
        requestSerialize: (b: Buffer) => b,
        requestDeserialize: (b: Buffer) => b,
        responseSerialize: (m: GetTokenResponse) => Buffer.from(GetTokenResponse.encode(m).finish()),
        responseDeserialize: (b: Buffer) => GetTokenResponse.decode(b),
      },
    },
    "Raw",
  );
  const client = new Raw(`127.0.0.1:${port}`, credentials.createInsecure(), { "grpc.max_send_message_length": -1 });
  extra.push(() => client.close());
  return {
    call: (bytes) =>
      new Promise((resolve, reject) =>
        (client as unknown as { getToken: (b: Buffer, md: Metadata, cb: (e: ServiceError | null, r: GetTokenResponse) => void) => void }).getToken(
          bytes,
          new Metadata(),
          (err, res) => (err ? reject(err) : resolve(res)),
        ),
      ),
  };
}

/** Field 1 (app_id), length-delimited, with the given raw bytes. */
function appIdField(bytes: Buffer): Buffer {
  const len: number[] = [];
  let n = bytes.length;
  do {
    len.push((n & 0x7f) | (n > 0x7f ? 0x80 : 0));
    n >>>= 7;
  } while (n > 0);
  return Buffer.concat([Buffer.from([0x0a, ...len]), bytes]);
}

type Client = InstanceType<typeof TokenServiceClient>;

/** A client on its own HTTP/2 connection (grpc-js shares one between clients with equal options otherwise). */
function ownConnection(port: number, options: object = {}): Client {
  const client = new TokenServiceClient(`127.0.0.1:${port}`, credentials.createInsecure(), { "grpc.use_local_subchannel_pool": 1, ...options });
  extra.push(() => client.close());
  return client;
}

function getToken(client: Client, appId = APP): Promise<GetTokenResponse> {
  return new Promise((resolve, reject) =>
    client.getToken({ kind: 0, agent: "", platformId: "", appId }, new Metadata(), { deadline: Date.now() + 5000 }, (err, res) => (err ? reject(err) : resolve(res))),
  );
}

/** A valid token, both on the harness client's connection and on a new one. */
async function stillServing(harness: Harness): Promise<void> {
  for (const r of [await harness.getToken(APP), await getToken(ownConnection(harness.port))]) {
    expect(harness.fake.isValid(APP, r.token!.accessToken)).toBe(true);
  }
}

describe("bad input", () => {
  it("a binary app id or invalid UTF-8: INVALID_ARGUMENT", async () => {
    h = await Harness.start();
    const raw = rawClient(h.port);
    for (const bytes of [Buffer.from([0xff, 0xfe, 0x00, 0x01]), Buffer.from([0x77, 0x78, 0xc3, 0x28]), Buffer.from("wx\u0000abc")]) {
      const err = await grpcError(raw.call(appIdField(bytes)));
      expect(err.code).toBe(status.INVALID_ARGUMENT);
    }
    await stillServing(h);
  });

  it("a request that is not protobuf at all: INTERNAL from the decoder, nothing else affected", async () => {
    h = await Harness.start();
    const err = await grpcError(rawClient(h.port).call(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01])));
    expect([status.INTERNAL, status.INVALID_ARGUMENT]).toContain(err.code);
    await stillServing(h);
  });

  it("a huge app id: RESOURCE_EXHAUSTED (message size limit), not a crash", async () => {
    h = await Harness.start();
    const err = await grpcError(rawClient(h.port).call(appIdField(Buffer.alloc(200_000, 0x61))));
    expect(err.code).toBe(status.RESOURCE_EXHAUSTED);
    const long = await grpcError(h.getToken("w".repeat(10_000)));
    expect(long.code).toBe(status.INVALID_ARGUMENT);
    await stillServing(h);
  });

  it("garbage binary metadata is ignored; oversized metadata is refused with a status", async () => {
    h = await Harness.start();
    const md = new Metadata();
    md.set("x-junk-bin", Buffer.from([0, 1, 2, 255, 254]));
    md.set("x-junk", " weird ;; value ");
    const ok = await new Promise<GetTokenResponse>((resolve, reject) =>
      h!.client.getToken({ kind: 0, agent: "", platformId: "", appId: APP }, md, (err, res) => (err ? reject(err) : resolve(res))),
    );
    expect(ok.token?.appId).toBe(APP);
    const big = new Metadata();
    big.set("x-big", "x".repeat(32 * 1024));
    const err = await new Promise<ServiceError>((resolve) =>
      h!.client.getToken({ kind: 0, agent: "", platformId: "", appId: APP }, big, (e) => resolve(e as ServiceError)),
    );
    expect(err?.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(err.details).toMatch(/metadata/);
    // Past the HTTP/2 header list limit the server never sees a call: the
    // transport resets the stream (RST_STREAM), which grpc-js reports as INTERNAL.
    const huge = new Metadata();
    huge.set("x-huge", "x".repeat(256 * 1024));
    const cut = await new Promise<ServiceError>((resolve) => h!.client.getToken({ kind: 0, agent: "", platformId: "", appId: APP }, huge, (e) => resolve(e as ServiceError)));
    expect(cut.code).toBe(status.INTERNAL);
    expect(cut.details).toMatch(/RST_STREAM/);
    // Only that stream was refused: the same connection, and a new one, are served.
    await stillServing(h);
  });

  it("a caller's deadline is honoured while the upstream hangs, and the refresh still lands", async () => {
    h = await Harness.start({ faults: [{ delayMs: 600, times: Infinity }] });
    const err = await grpcError(h.getToken(APP, 100));
    expect(err.code).toBe(status.DEADLINE_EXCEEDED);
    h.fake.clearFaults();
    await eventually(async () => expect((await h!.getToken(APP)).token?.version).toBe(1));
  });
});

describe("hostile clients", () => {
  it("thousands of watch streams on one connection: the default cap served, the rest refused, all freed, others unaffected", async () => {
    h = await Harness.start();
    await h.getToken(APP);
    const hog = new TokenServiceClient(`127.0.0.1:${h.port}`, credentials.createInsecure());
    extra.push(() => hog.close());
    let first = 0;
    let refused = 0;
    const streams = Array.from({ length: 3000 }, () => {
      const s = hog.watchToken({ kind: 0, agent: "", platformId: "", appId: APP, knownVersion: 0, knownFingerprint: "" });
      s.once("data", () => first++);
      s.on("error", (err: ServiceError) => err.code === status.RESOURCE_EXHAUSTED && refused++);
      return s;
    });
    // watches.tokens.perConnection: 500 by default.
    await eventually(() => expect([first, refused]).toEqual([500, 2500]), 15_000);
    expect(h.server.tokens.watcherCount()).toBe(500);
    await stillServing(h);
    for (const s of streams) s.cancel();
    await eventually(() => expect(h!.server.tokens.watcherCount()).toBe(0), 10_000);
    expect(h.server.credential(APP).listenerCount()).toBe(0);
  });

  it("sockets that connect and never speak, one that stops after the HTTP/2 preface, and one that sends garbage, do not disturb others", async () => {
    h = await Harness.start();
    const open = (): Socket => {
      const socket = connect(h!.port, "127.0.0.1");
      socket.on("error", () => undefined);
      extra.push(() => void socket.destroy());
      return socket;
    };
    const connected = (s: Socket) => new Promise<void>((r) => (s.readyState === "open" ? r() : s.once("connect", () => r())));
    const silent = Array.from({ length: 50 }, open);
    const preface = open();
    const garbage = open();
    await Promise.all([...silent, preface, garbage].map(connected));
    // The client preface alone: the server answers with its SETTINGS frame
    // (type 0x4) and then waits for ours, which never comes.
    const fromServer: Buffer[] = [];
    preface.on("data", (b: Buffer) => fromServer.push(b));
    preface.write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
    await eventually(() => expect(Buffer.concat(fromServer)[3]).toBe(0x4));
    let garbageClosed = false;
    garbage.on("close", () => (garbageClosed = true));
    garbage.on("data", () => undefined);
    garbage.write(Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));

    // Others are served, on a new connection too, while those sockets sit there.
    await stillServing(h);
    const others = await Promise.all(Array.from({ length: 5 }, () => getToken(ownConnection(h!.port))));
    for (const r of others) expect(r.token?.appId).toBe(APP);
    expect([...silent, preface].every((s) => !s.destroyed && s.readyState === "open")).toBe(true);
    // The server answers an HTTP/1 request with GOAWAY and closes.
    await eventually(() => expect(garbageClosed).toBe(true));
    await stillServing(h);
  });

  // How the slow subscriber's own memory stays bounded (newest wins, write() and
  // 'drain'), and what it gets when it resumes, is test/api/watch-scale.test.ts's
  // "keeps at most one token for a subscriber that stops reading". Here: everyone else.
  it("a subscriber that stops reading holds up no one: other subscribers get every rotation, calls are answered", async () => {
    h = await Harness.start();
    const first = (await h.getToken(APP)).token!;
    // A 1 KiB HTTP/2 window and a reader that takes one message and stops: the
    // transport fills, so the server's write() returns false. (A grpc-js client
    // that never starts reading pushes back nothing: it buffers on its side.)
    const slowClient = ownConnection(h.port, { "grpc-node.flow_control_window": 1024 });
    const slow = slowClient.watchToken({ kind: 0, agent: "", platformId: "", appId: APP, knownVersion: 0, knownFingerprint: "" });
    slow.on("error", () => undefined);
    await new Promise<void>((resolve) => slow.once("data", () => resolve(void slow.pause())));
    const [stuck] = [...h.server.api["watchers"]];
    // Readers on the stuck one's connection and on another.
    const readers = [slowClient, ownConnection(h.port)].map((client) => {
      const seen: number[] = [];
      const stream = client.watchToken({ kind: 0, agent: "", platformId: "", appId: APP, knownVersion: 0, knownFingerprint: "" });
      stream.on("data", (m: WatchTokenResponse) => seen.push(m.token!.version));
      stream.on("error", () => undefined);
      return { stream, seen };
    });
    await eventually(() => expect(readers.map((r) => r.seen)).toEqual([[first.version], [first.version]]));

    let token = first.accessToken;
    let version = first.version;
    const rotate = async (): Promise<void> => {
      token = (await h!.forceRefresh(APP, token)).token!.accessToken;
      version++;
      // Each rotation reaches the reading subscriber at once.
      await eventually(() => expect(readers.map((r) => r.seen.at(-1))).toEqual([version, version]));
    };
    // Fill the stuck subscriber's transport (about 115 small messages fit in
    // the buffers on the way) until the server waits for its 'drain'...
    while (!stuck!["blocked"]) {
      expect(version - first.version).toBeLessThan(500);
      await rotate();
    }
    // ...then rotate on while it stays stuck: the server writes it nothing
    // more (only a drain would let it), and holds only the newest token for it.
    const writes = countWrites(stuck!);
    for (let i = 0; i < 50; i++) {
      await rotate();
      expect(stuck!["blocked"]).toBe(true);
      expect(writes.versions.length).toBeLessThanOrEqual(writes.drains);
      expect(stuck!["pending"]?.version).toBe(version);
    }
    const all = Array.from({ length: version - first.version + 1 }, (_, i) => first.version + i);
    for (const r of readers) expect(r.seen).toEqual(all);
    await stillServing(h);
    slow.cancel();
    await eventually(() => expect(h!.server.tokens.watcherCount()).toBe(2));
    for (const r of readers) r.stream.cancel();
  });
});

describe("shutdown", () => {
  it("lets an in-flight call finish, then refuses new ones", async () => {
    h = await Harness.start({ faults: [{ delayMs: 300 }] });
    const inflight = h.getToken(APP, 5000);
    await eventually(() => expect(h!.server.tokens.inflightUnary()).toBe(1));
    const stopping = h.server.shutdown(3000);
    const res = await inflight;
    expect(res.token?.appId).toBe(APP);
    await stopping;
    const after = await grpcError(h.getToken(APP, 1000));
    expect([status.UNAVAILABLE, status.DEADLINE_EXCEEDED]).toContain(after.code);
  });
});

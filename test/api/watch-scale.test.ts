/**
 * WatchToken under load, on the real server over loopback: a thousand
 * subscribers, a thousand subscribe/cancel cycles, and a subscriber that stops
 * reading while the token rotates many times.
 */
import { credentials, type ChannelOptions, type ClientReadableStream } from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { TokenServiceClient, type WatchTokenResponse } from "../../generated/wxtoken/v1/token_service.js";
import type { Watcher } from "../../src/api/watcher.js";
import { APP, eventually, Harness } from "../support/harness.js";
import { countWrites } from "../support/watch-writes.js";

type Client = InstanceType<typeof TokenServiceClient>;

let h: Harness | undefined;
let clients: Client[] = [];
afterEach(async () => {
  for (const c of clients) c.close();
  clients = [];
  await h?.stop();
  h = undefined;
});

/**
 * n clients, each on its own HTTP/2 connection: grpc-js shares one connection
 * between clients with equal options unless told to use a local subchannel
 * pool. grpc-js servers allow unlimited streams per connection, but C-core,
 * Go and most proxies cap them at 100-250, so real deployments spread out.
 */
function openClients(n: number, options: ChannelOptions = {}): Client[] {
  const made = Array.from(
    { length: n },
    () => new TokenServiceClient(`127.0.0.1:${h!.port}`, credentials.createInsecure(), { "grpc.use_local_subchannel_pool": 1, ...options }),
  );
  clients.push(...made);
  return made;
}

interface Subscription {
  stream: ClientReadableStream<WatchTokenResponse>;
  versions: number[];
}

function subscribe(client: Client, knownVersion = 0): Subscription {
  const stream = client.watchToken({ kind: 0, agent: "", platformId: "", appId: APP, knownVersion, knownFingerprint: "" });
  const versions: number[] = [];
  stream.on("data", (m: WatchTokenResponse) => versions.push(m.token!.version));
  stream.on("error", () => undefined); // CANCELLED after cancel(), expected
  return { stream, versions };
}

/** The server's live watchers (private in TokenServiceImpl; bracket access is a test-only escape hatch). */
function watchers(): Watcher[] {
  return [...h!.server.api["watchers"]];
}

function expectNoWatchers(): void {
  expect(h!.server.tokens.watcherCount()).toBe(0);
  expect(h!.server.credential(APP).listenerCount()).toBe(0);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("WatchToken at scale", () => {
  it("gives 1,000 subscribers the current token at once, then a rotation exactly once", async () => {
    h = await Harness.start();
    const first = (await h.getToken(APP)).token!;
    const channels = openClients(4);
    const subs = Array.from({ length: 1000 }, (_, i) => subscribe(channels[i % channels.length]!));

    await eventually(() => expect(subs.filter((s) => s.versions.length === 1)).toHaveLength(1000), 15_000);
    for (const s of subs) expect(s.versions).toEqual([first.version]);
    expect(h.server.tokens.watcherCount()).toBe(1000);
    expect(h.server.credential(APP).listenerCount()).toBe(1000);
    // The 1,000 streams really are spread over four connections.
    const peers = new Set(watchers().map((w) => w.caller.peer));
    expect(peers.size).toBe(4);

    const rotated = await h.forceRefresh(APP, first.accessToken);
    expect(rotated.refreshed).toBe(true);
    await eventually(() => expect(subs.filter((s) => s.versions.length >= 2)).toHaveLength(1000), 15_000);
    await sleep(200); // room for a duplicate to show up, if one were sent
    for (const s of subs) expect(s.versions).toEqual([first.version, rotated.token!.version]);

    for (const s of subs) s.stream.cancel();
    await eventually(expectNoWatchers);
  });

  it("leaves no watcher or listener behind after 1,000 subscribe/cancel cycles", async () => {
    h = await Harness.start();
    await h.getToken(APP);
    const channels = openClients(4);
    let cycle = 0;
    // 50 cycles at a time; odd ones cancel before any answer (often before the
    // server has run the handler), even ones after the first token arrived.
    for (let batch = 0; batch < 20; batch++) {
      await Promise.all(
        Array.from({ length: 50 }, async () => {
          const n = cycle++;
          const s = subscribe(channels[n % channels.length]!);
          // Not in the same tick as the call: grpc-js 1.14 then starts the call
          // anyway and never cancels it (a client bug, not the server's).
          if (n % 2 === 0) await eventually(() => expect(s.versions).toHaveLength(1));
          else await new Promise((r) => setImmediate(r));
          s.stream.cancel();
        }),
      );
    }
    expect(cycle).toBe(1000);
    await eventually(expectNoWatchers);
    // And the server still serves new subscribers normally.
    const after = subscribe(channels[0]!);
    await eventually(() => expect(after.versions).toHaveLength(1));
    after.stream.cancel();
    await eventually(expectNoWatchers);
  });

  it("keeps at most one token for a subscriber that stops reading, and gives it the newest when it resumes", async () => {
    h = await Harness.start();
    const first = (await h.getToken(APP)).token!;
    // A 1 KiB HTTP/2 window, and a reader that takes the first message and
    // then stops: the transport fills after a few messages, so the server sees
    // write() === false. (A grpc-js client that never starts reading does not
    // push back at all: it queues everything in memory on its side.)
    const [slow] = openClients(1, { "grpc-node.flow_control_window": 1024 });
    const stream = slow!.watchToken({ kind: 0, agent: "", platformId: "", appId: APP, knownVersion: 0, knownFingerprint: "" });
    stream.on("error", () => undefined);
    await new Promise<void>((resolve) =>
      stream.once("data", () => {
        stream.pause();
        resolve();
      }),
    );
    expect(watchers()).toHaveLength(1);
    const watcher = watchers()[0]!;
    const writes = countWrites(watcher);

    let token = first.accessToken;
    const rotate = async (): Promise<void> => {
      token = (await h!.forceRefresh(APP, token)).token!.accessToken;
    };
    // Rotate until the transport is full (about 115 small messages fit in the
    // buffers on the way), then 100 times more while the reader stays stuck.
    while (writes.firstRefused === undefined) {
      expect(writes.versions.length).toBeLessThan(500);
      await rotate();
    }
    const stuckFrom = h.server.credential(APP).current()!.version;
    for (let i = 0; i < 100; i++) await rotate();
    const latest = h.server.credential(APP).current()!.version;
    expect(latest).toBe(stuckFrom + 100);
    // Once write() said the transport was full, the server wrote again only
    // when it drained, one token each time: nothing piles up per rotation.
    expect(writes.afterRefused()).toBeLessThanOrEqual(writes.drains);
    // The stream's buffer stays at its high-water mark, not growing with the
    // rotations: nothing was written between a full write() and its 'drain'.
    expect(writes.whileFull).toBe(0);

    const versions: number[] = [first.version];
    stream.on("data", (m: WatchTokenResponse) => versions.push(m.token!.version));
    stream.resume();
    await eventually(() => expect(versions.at(-1)).toBe(latest));
    await sleep(100);
    // Newest wins: the reader gets exactly what the server wrote, each version
    // once and in order, ending with the newest; the versions that came and
    // went while it was stuck were never sent.
    expect(versions).toEqual([first.version, ...writes.versions]);
    for (let i = 1; i < versions.length; i++) expect(versions[i]!).toBeGreaterThan(versions[i - 1]!);
    expect(writes.afterRefused()).toBeLessThanOrEqual(writes.drains);
    const sentWhileStuck = versions.filter((v) => v > stuckFrom);
    expect(sentWhileStuck.length).toBeLessThanOrEqual(writes.drains);
    expect(sentWhileStuck.length).toBeLessThan(100);
    expect(watcher.backlog()).toBe(0);

    stream.cancel();
    await eventually(expectNoWatchers);
  });
});

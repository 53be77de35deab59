/**
 * WatchToken fan-out: N subscribers on one wxtoken process (clients in another
 * process), then rotations. For each rotation: the time from the server taking
 * the new token to the last subscriber receiving it. Also the server's memory
 * per subscriber. One client process decodes every message, so its own work is
 * part of the time (a real deployment spreads that over many machines).
 */
import { memoryUsage } from "node:process";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { LoadProcess } from "./support/child.js";
import type { FromWatchClient, Subscribe } from "./support/protocol.js";
import { BENCH_APP, startWxToken } from "./support/servers.js";
import { bytes, ms, percentile, sleep, wallMs } from "./support/stats.js";

export interface FanoutOptions {
  sizes: number[];
  rotations: number;
  perConnection: number;
  /** grpc (default): WatchToken; sse: the HTTP API's event stream, one connection per watcher. */
  transport?: "grpc" | "sse";
}

export interface FanoutRow {
  subscribers: number;
  subscribeMs: number;
  lastP50: number;
  lastP99: number;
  medianP50: number;
  /** Time the server spends handing the new token to every watcher (synchronous writes). */
  serverLoopP50: number;
  heapPerSub: number;
  rssPerSub: number;
}

/** global.gc without --expose-gc on the command line. */
function gcFunction(): () => void {
  const existing = (globalThis as { gc?: () => void }).gc;
  if (existing) return existing;
  setFlagsFromString("--expose-gc");
  return runInNewContext("gc") as () => void;
}

async function settledMemory(gc: () => void): Promise<NodeJS.MemoryUsage> {
  for (let i = 0; i < 3; i++) {
    gc();
    await sleep(50);
  }
  return memoryUsage();
}

async function oneSize(n: number, o: FanoutOptions, gc: () => void): Promise<FanoutRow> {
  // The transport under test gets a cap above its connections, the other a small one: together they fit the descriptor limit.
  const room = Math.ceil(n / o.perConnection) + 500;
  const wx = await startWxToken(o.transport === "sse" ? { http: { maxConnections: room }, grpc: { maxConnections: 1000 } } : { grpc: { maxConnections: room }, http: { maxConnections: 1000 } });
  const app = wx.server.credential(BENCH_APP);
  // Registered before any watcher, so it runs first when a token arrives.
  let acceptedAt = 0;
  const off = app.onToken(() => (acceptedAt = wallMs()));
  const load = new LoadProcess<FromWatchClient>("watch-client.js");
  try {
    const before = await settledMemory(gc);
    const transport = o.transport ?? "grpc";
    const target = transport === "sse" ? wx.httpTarget : wx.target;
    load.send({ type: "subscribe", transport, target, appId: BENCH_APP, subscribers: n, perConnection: o.perConnection } satisfies Subscribe);
    const failed = load.next("error", 600_000).then((e) => Promise.reject(new Error(e.message)));
    failed.catch(() => undefined);
    const subscribed = await Promise.race([load.next("subscribed"), failed]);
    if (wx.server.tokens.watcherCount() !== n) throw new Error(`server holds ${wx.server.tokens.watcherCount()} watchers, expected ${n}`);
    const after = await settledMemory(gc);
    // Registered after every watcher: runs once all of them have written.
    let queuedAt = 0;
    const offLast = app.onToken(() => (queuedAt = wallMs()));

    const last: number[] = [];
    const median: number[] = [];
    const loop: number[] = [];
    for (let r = 0; r < o.rotations; r++) {
      const stale = app.current()!;
      const { token } = await app.forceRefresh(stale.value);
      const d = await Promise.race([load.next("delivered"), failed]);
      if (d.version !== token.version) throw new Error(`delivered v${d.version}, expected v${token.version}`);
      if (d.duplicates > 0) throw new Error(`${d.duplicates} duplicate deliveries of v${d.version}`);
      last.push(d.last - acceptedAt);
      median.push(d.median - acceptedAt);
      loop.push(queuedAt - acceptedAt);
      await sleep(100);
    }
    offLast();
    return {
      subscribers: n,
      subscribeMs: subscribed.ms,
      lastP50: percentile(last, 50),
      lastP99: percentile(last, 99),
      medianP50: percentile(median, 50),
      serverLoopP50: percentile(loop, 50),
      heapPerSub: (after.heapUsed - before.heapUsed) / n,
      rssPerSub: (after.rss - before.rss) / n,
    };
  } finally {
    off();
    await load.stop();
    await wx.close();
  }
}

export async function fanoutBench(o: FanoutOptions, print: (s: string) => void): Promise<FanoutRow[]> {
  const what = o.transport === "sse" ? "Server-sent events (GET /v1/apps/{app}/token:watch), one HTTP/1.1 connection per watcher" : `WatchToken fan-out, ${o.perConnection} streams per connection`;
  print(`${what}, ${o.rotations} rotations per size (clients in one other process)`);
  print(`  ${"subscribers".padStart(11)}  ${"subscribe".padStart(9)}  ${"last delivery p50".padStart(17)}  ${"p99".padStart(8)}  ${"median sub p50".padStart(14)}  ${"server loop".padStart(11)}  ${"heap/sub".padStart(9)}  ${"rss/sub".padStart(9)}`);
  const gc = gcFunction();
  const rows: FanoutRow[] = [];
  for (const n of o.sizes) {
    const r = await oneSize(n, o, gc);
    rows.push(r);
    print(
      `  ${n.toLocaleString("en-US").padStart(11)}  ${ms(r.subscribeMs).padStart(9)}  ${ms(r.lastP50).padStart(17)}  ${ms(r.lastP99).padStart(8)}  ${ms(r.medianP50).padStart(14)}  ${ms(r.serverLoopP50).padStart(11)}  ${bytes(r.heapPerSub).padStart(9)}  ${bytes(r.rssPerSub).padStart(9)}`,
    );
  }
  return rows;
}

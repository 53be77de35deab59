/**
 * TokenSource.token() reads per second: the client-side cache fed by
 * WatchToken, read in a tight loop in a separate process. Compare with the
 * GetToken calls/s of the unary bench: that is the network round trip a
 * cached read saves.
 */
import { LoadProcess } from "./support/child.js";
import type { FromUnaryClient, SourceReads } from "./support/protocol.js";
import { BENCH_APP, startWxToken } from "./support/servers.js";
import { perSecond } from "./support/stats.js";

export async function tokenSourceBench(durationMs: number, print: (s: string) => void): Promise<number> {
  const wx = await startWxToken();
  const load = new LoadProcess<FromUnaryClient>("unary-client.js");
  try {
    load.send({ type: "token-source", target: wx.target, appId: BENCH_APP, durationMs } satisfies SourceReads);
    const r = await load.next("token-source-result", durationMs + 30_000);
    const rate = r.reads / r.seconds;
    print(`TokenSource.token(), one process reading in a loop for ${durationMs / 1000} s`);
    print(`  ${"reads".padEnd(34)} ${perSecond(rate).padStart(10)}   (${((1e9 / rate) | 0).toString()} ns a read)`);
    return rate;
  } finally {
    await load.stop();
    await wx.close();
  }
}

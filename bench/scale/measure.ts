/**
 * The scale bench's measurements that more than one phase takes: a restore
 * from WeChat's list followed to the end (or to the time limit), whether a
 * set of accounts is served, GetToken calls/s next to the bare grpc-js
 * server, and the text of a peak rate.
 */
import type { AuthorizerTokenProgress, RatesSnapshot } from "../../src/fake-wechat/index.js";
import { LoadProcess } from "../support/child.js";
import type { FromUnaryClient, UnaryLoad, UnaryResult } from "../support/protocol.js";
import { startBareServer } from "../support/servers.js";
import { perSecond, sleep } from "../support/stats.js";
import type { BenchClient } from "./client.js";
import { COMPONENT, type FakeProcess } from "./fake.js";
import type { ServerProcess } from "./server.js";

export type Print = (s: string) => void;

/** "n/a (why)": what the bench prints for a number it cannot measure. */
export const na = (why: string): string => `n/a (${why})`;

export function count(n: number): string {
  return n.toLocaleString("en-US");
}

export function seconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(2)} s` : `${(ms / 1000).toFixed(0)} s`;
}

/** Up to `size` of the ids (the last one always among them), for a served check that does not cost a call per account. */
export function sample(ids: readonly string[], size = 200): string[] {
  if (ids.length <= size) return [...ids];
  const step = ids.length / size;
  return [...Array.from({ length: size - 1 }, (_, i) => ids[Math.floor(i * step)]!), ids[ids.length - 1]!];
}

/** Whether the component and every account in the sample answer GetToken. */
export async function allServed(client: BenchClient, ids: readonly string[]): Promise<boolean> {
  return (await client.served([COMPONENT, ...ids], 1000)) === ids.length + 1;
}

export interface RestoreOutcome {
  done: boolean;
  /** From the server's spawn to all served (or to the time limit). */
  ms: number;
  cpuSeconds: number | undefined;
  progress: AuthorizerTokenProgress;
  rates: RatesSnapshot;
}

/**
 * Follows a restore from an empty store: done when the fake has handed a
 * token to every one of the n accounts and a sample of them (with the last)
 * answers GetToken. Prints progress every 30 s.
 */
export async function followRestore(n: number, ids: readonly string[], fake: FakeProcess, servers: ServerProcess[], client: BenchClient, limitMs: number, print: Print): Promise<RestoreOutcome> {
  const startedAt = servers[0]!.startedAt;
  const probe = sample(ids);
  let lastPrint = Date.now();
  let progress = await fake.progress();
  let done = false;
  while (Date.now() - startedAt < limitMs) {
    for (const s of servers) if (!s.alive) throw new Error(`the server exited during the restore; its log ends:\n${s.logTail()}`);
    progress = await fake.progress();
    if (progress.withToken >= n && (await allServed(client, probe))) {
      done = true;
      break;
    }
    if (Date.now() - lastPrint >= 30_000) {
      lastPrint = Date.now();
      print(`    · ${seconds(lastPrint - startedAt)}: ${count(progress.withToken)} of ${count(n)} fetched, server CPU ${servers.map((s) => s.cpuSeconds()?.toFixed(0) ?? "?").join("+")} s`);
    }
    await sleep(progress.withToken >= n ? 100 : 500);
  }
  const ms = Date.now() - startedAt;
  const cpu = servers.map((s) => s.cpuSeconds());
  return { done, ms, cpuSeconds: cpu.some((c) => c === undefined) ? undefined : cpu.reduce((a, b) => a! + b!, 0), progress, rates: await fake.rates() };
}

/** "412/s in the busiest second, 380/s over the busiest minute" of every upstream call (or of one path's). */
export function peakText(rates: RatesSnapshot, phaseMs: number, path?: string): string {
  const r = path ? rates.byPath[path] : rates.total;
  if (!r || r.calls === 0) return "0 calls";
  const minute = phaseMs >= 60_000 ? `${perSecond(r.busiestMinute / 60)} over the busiest minute` : `busiest minute n/a (the phase took ${seconds(phaseMs)})`;
  return `${perSecond(r.busiestSecond)} in the busiest second, ${minute} (${count(r.calls)} calls)`;
}

export interface GetTokenRate {
  wxtoken: number;
  bare: number;
}

async function unary(target: string, appId: string, warmupMs: number, durationMs: number): Promise<UnaryResult> {
  const load = new LoadProcess<FromUnaryClient>("unary-client.js");
  try {
    load.send({ type: "unary", target, kind: "getToken", appId, credential: 0, concurrency: 64, warmupMs, durationMs } satisfies UnaryLoad);
    const r = await load.next("unary-result", warmupMs + durationMs + 30_000);
    if (r.errors > 0) throw new Error(`GetToken ${appId}: ${r.errors} calls failed, first: ${r.firstError}`);
    return r;
  } finally {
    await load.stop();
  }
}

/**
 * GetToken calls/s on one account (64 in flight, the client in its own
 * process), and a bare grpc-js server answering the same reply from a
 * constant, in turns over the rounds as the unary bench does.
 */
export async function getTokenRate(client: BenchClient, target: string, appId: string, o: { rounds: number; warmupMs: number; durationMs: number }): Promise<GetTokenRate> {
  const bare = await startBareServer(await client.getToken(appId));
  try {
    let wx = 0;
    let b = 0;
    let secs = 0;
    for (let i = 0; i < o.rounds; i++) {
      wx += (await unary(target, appId, o.warmupMs, o.durationMs)).calls;
      b += (await unary(bare.target, appId, o.warmupMs, o.durationMs)).calls;
      secs += o.durationMs / 1000;
    }
    return { wxtoken: wx / secs, bare: b / secs };
  } finally {
    await bare.close();
  }
}

export function rateText(r: GetTokenRate): string {
  return `${perSecond(r.wxtoken)} (${((r.wxtoken / r.bare) * 100).toFixed(0)} % of bare grpc-js's ${perSecond(r.bare)})`;
}

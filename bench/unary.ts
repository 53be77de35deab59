/**
 * GetToken throughput and latency against wxtoken, next to a bare grpc-js
 * server measured in the same run: a byte echo, and the same GetToken answered
 * from a constant. The load runs in a separate process. The three targets take
 * turns over several rounds, so a burst of background load on the machine
 * does not land on one of them only.
 */
import { CredentialKind } from "../generated/wxtoken/v1/token_service.js";
import { toProtoToken } from "../src/grpc/convert.js";
import { LoadProcess } from "./support/child.js";
import type { FromUnaryClient, UnaryLoad, UnaryResult } from "./support/protocol.js";
import { BENCH_APP, startBareServer, startWxToken } from "./support/servers.js";
import { ms, percentile, perSecond } from "./support/stats.js";

export interface UnaryOptions {
  concurrency: number;
  warmupMs: number;
  /** Measured time per target per round. */
  durationMs: number;
  rounds: number;
}

export interface UnarySummary {
  callsPerSecond: number;
  /** Medians over the rounds. */
  p50Ms: number;
  p99Ms: number;
}

async function measure(target: string, kind: UnaryLoad["kind"], credential: number, o: UnaryOptions): Promise<UnaryResult> {
  const load = new LoadProcess<FromUnaryClient>("unary-client.js");
  try {
    load.send({ type: "unary", target, kind, appId: BENCH_APP, credential, concurrency: o.concurrency, warmupMs: o.warmupMs, durationMs: o.durationMs } satisfies UnaryLoad);
    const result = await load.next("unary-result", o.warmupMs + o.durationMs + 30_000);
    if (result.errors > 0) throw new Error(`${kind}: ${result.errors} calls failed, first: ${result.firstError}`);
    return result;
  } finally {
    await load.stop();
  }
}

function summarize(results: UnaryResult[]): UnarySummary {
  const calls = results.reduce((n, r) => n + r.calls, 0);
  const seconds = results.reduce((n, r) => n + r.seconds, 0);
  return {
    callsPerSecond: calls / seconds,
    p50Ms: percentile(results.map((r) => r.p50Ms), 50),
    p99Ms: percentile(results.map((r) => r.p99Ms), 50),
  };
}

export async function unaryBench(o: UnaryOptions, print: (s: string) => void): Promise<Record<string, UnarySummary>> {
  print(
    `GetToken, ${o.concurrency} calls in flight on one connection, client in its own process; ` +
      `${o.rounds} rounds of ${o.durationMs / 1000} s per target (after ${o.warmupMs / 1000} s warm-up each)`,
  );
  const wx = await startWxToken();
  const reply = { token: toProtoToken(await wx.server.credential(BENCH_APP).get()) };
  const ticketReply = { token: toProtoToken(await wx.server.credential(BENCH_APP, { kind: "jsapi_ticket" }).get()) };
  const bare = await startBareServer(reply);
  const bareTicket = await startBareServer(ticketReply);
  const JSAPI = CredentialKind.CREDENTIAL_KIND_JSAPI_TICKET;
  const targets = [
    { name: "wxtoken GetToken", target: wx.target, kind: "getToken" as const, credential: 0 },
    { name: "bare grpc-js, GetToken constant", target: bare.target, kind: "getToken" as const, credential: 0 },
    { name: "bare grpc-js, byte echo", target: bare.target, kind: "echo" as const, credential: 0 },
    { name: "wxtoken GetToken, jsapi ticket", target: wx.target, kind: "getToken" as const, credential: JSAPI },
    { name: "bare grpc-js, ticket constant", target: bareTicket.target, kind: "getToken" as const, credential: JSAPI },
    { name: "wxtoken HTTP GET /v1/apps/{app}/token", target: wx.httpTarget, kind: "httpGet" as const, credential: 0 },
  ];
  try {
    const results = new Map<string, UnaryResult[]>(targets.map((t) => [t.name, []]));
    for (let round = 0; round < o.rounds; round++) {
      for (const t of targets) results.get(t.name)!.push(await measure(t.target, t.kind, t.credential, o));
    }
    const out: Record<string, UnarySummary> = {};
    for (const t of targets) {
      const s = (out[t.name] = summarize(results.get(t.name)!));
      const perRound = results.get(t.name)!.map((r) => (r.calls / r.seconds).toFixed(0)).join(", ");
      print(`  ${t.name.padEnd(34)} ${perSecond(s.callsPerSecond).padStart(10)}   p50 ${ms(s.p50Ms).padStart(9)}   p99 ${ms(s.p99Ms).padStart(9)}   (rounds: ${perRound})`);
    }
    const ratio = (a: string, b: string): string => ((out[a]!.callsPerSecond / out[b]!.callsPerSecond) * 100).toFixed(0);
    print(`  wxtoken / bare echo: ${ratio(targets[0]!.name, targets[2]!.name)} %   wxtoken / bare constant GetToken: ${ratio(targets[0]!.name, targets[1]!.name)} %`);
    print(`  wxtoken ticket / bare constant ticket: ${ratio(targets[3]!.name, targets[4]!.name)} %   HTTP GET / gRPC GetToken: ${ratio(targets[5]!.name, targets[0]!.name)} %`);
    return out;
  } finally {
    await bareTicket.close();
    await bare.close();
    await wx.close();
  }
}

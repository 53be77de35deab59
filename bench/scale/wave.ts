/**
 * The scale bench's refresh waves: N tokens obtained together by a restore
 * come due together one lifetime later. The fake's tokens live a short
 * while here (waveLifetimeS) so the wave comes within minutes. Measured on
 * one server (peak upstream calls/s against the platform's ceiling), then
 * on 3 replicas sharing Redis (Redis commands/s at steady state and during
 * the wave).
 */
import { seededAuthorizerAppId } from "../../src/fake-wechat/index.js";
import { perSecond, sleep } from "../support/stats.js";
import { BenchClient } from "./client.js";
import { type Ctx, subdir } from "./context.js";
import { AUTHORIZER_TOKEN_PATH, COMPONENT, FakeProcess } from "./fake.js";
import { allServed, count, followRestore, na, peakText, sample, seconds, type Print } from "./measure.js";
import { freePort, portOpen } from "./proc.js";
import { RedisWatch } from "./redis.js";
import { ServerProcess } from "./server.js";

const REPLICAS = 3;
const SETTLE_MS = 5000;

/**
 * Long enough that the restore is over (and a steady window has passed)
 * before the first token comes due, which the server plans in the last part
 * of a lifetime; long enough for the ceiling to carry N refreshes a
 * lifetime; at most WeChat's 7200 s.
 */
export function waveLifetimeS(ctx: Ctx, restoreMs: number): number {
  if (ctx.o.waveLifetimeS !== undefined) return ctx.o.waveLifetimeS;
  const afterRestore = Math.ceil((1.5 * restoreMs + SETTLE_MS + ctx.o.idleMs) / 1000 + 30);
  const underCeiling = ctx.traits.ceiling !== undefined && !ctx.o.quick ? Math.ceil((2 * ctx.o.n) / ctx.traits.ceiling) : 0;
  return Math.min(7200, Math.max(60, afterRestore, underCeiling));
}

interface Wave {
  done: boolean;
  /** From the wave's start (the restore's end) to the last refresh seen, or to the limit. */
  ms: number;
  /** From the first refresh to the last (0 when none came). */
  spanMs: number;
  refreshed: number;
  expired: number;
  /** Redis commands/s over the span, and in the busiest one-second sample (with a Redis to watch). */
  redis?: { average: number; peak: number };
}

/**
 * Samples every second, until every account got one more token than at the
 * start (or the limit): the fake's refresh count and, with a Redis to watch,
 * its commands processed. Prints progress every 30 s.
 */
async function followWave(n: number, fake: FakeProcess, limitMs: number, print: Print, redis?: RedisWatch): Promise<Wave> {
  const started = Date.now();
  const at0 = await fake.progress();
  const samples: Array<{ at: number; refreshed: number; commands: number }> = [];
  let lastPrint = started;
  for (;;) {
    const p = await fake.progress();
    samples.push({ at: Date.now(), refreshed: p.refreshes - at0.refreshes, commands: redis ? await redis.commandsProcessed() : 0 });
    if (p.refreshes - at0.refreshes >= n || Date.now() - started >= limitMs) break;
    if (Date.now() - lastPrint >= 30_000) {
      lastPrint = Date.now();
      print(`    · ${seconds(lastPrint - started)} into the wave: ${count(p.refreshes - at0.refreshes)} of ${count(n)} refreshed`);
    }
    await sleep(1000);
  }
  const last = samples[samples.length - 1]!;
  // The span: from the last sample before any refresh to the first sample with them all.
  const first = Math.max(0, samples.findIndex((x) => x.refreshed > 0) - 1);
  const end = samples.findIndex((x) => x.refreshed >= last.refreshed);
  const span = { from: samples[first]!, to: samples[end]! };
  let peak = 0;
  for (let i = 1; i < samples.length; i++) peak = Math.max(peak, ((samples[i]!.commands - samples[i - 1]!.commands) * 1000) / (samples[i]!.at - samples[i - 1]!.at));
  const spanMs = span.to.at - span.from.at;
  return {
    done: last.refreshed >= n,
    ms: span.to.at - started,
    spanMs: last.refreshed > 0 ? spanMs : 0,
    refreshed: last.refreshed,
    expired: (await fake.progress()).expiredBeforeRefresh - at0.expiredBeforeRefresh,
    redis: redis && spanMs > 0 ? { average: ((span.to.commands - span.from.commands) * 1000) / spanMs, peak } : undefined,
  };
}

function waveText(w: Wave, n: number): string {
  return `${w.done ? "" : "unfinished: "}${count(w.refreshed)} of ${count(n)} refreshed over ${seconds(w.spanMs)} (first to last), ${count(w.expired)} only after their token expired`;
}

function waveLimitMs(ctx: Ctx, lifetimeS: number): number {
  return Math.max(ctx.o.timeoutMs, 1.2 * lifetimeS * 1000);
}

function ceilingText(ctx: Ctx): string {
  return ctx.traits.ceiling !== undefined ? `ceiling ${perSecond(ctx.traits.ceiling)} (maxCallsPerSecond)` : "ceiling n/a (no maxCallsPerSecond in this build)";
}

/** One server: a restore with short-lived tokens, then the wave of their refreshes. */
export async function refreshWave(ctx: Ctx, lifetimeS: number): Promise<void> {
  const { o, report, print } = ctx;
  const label = `peak upstream calls/s, refresh wave (tokens of ${lifetimeS} s)`;
  const receiverPort = await freePort();
  const fake = await FakeProcess.start(o.n, lifetimeS, `http://127.0.0.1:${receiverPort}/wechat/open/${COMPONENT}`);
  const server = await ServerProcess.start({ dir: subdir(ctx, "wave"), name: "server", upstreamUrl: fake.url, receiverPort, platform: ctx.traits.platform });
  const client = new BenchClient(server.target);
  try {
    print(`  refresh wave: restore of ${count(o.n)} with tokens of ${lifetimeS} s, then their refreshes...`);
    const restore = await followRestore(o.n, Array.from({ length: o.n }, (_, i) => seededAuthorizerAppId(i)), fake, [server], client, o.timeoutMs, print);
    if (!restore.done) return report.add(label, na(`the restore did not finish within ${seconds(o.timeoutMs)}`));
    await fake.resetCounts();
    const wave = await followWave(o.n, fake, waveLimitMs(ctx, lifetimeS), print);
    report.add(label, `${peakText(await fake.rates(), wave.ms)}; ${ceilingText(ctx)}`);
    report.add("  the wave", waveText(wave, o.n));
  } finally {
    client.close();
    await server.stop();
    await fake.stop();
  }
}

/** 3 replicas on Redis under a key prefix of the bench's own (dropped afterwards). */
export async function replicasOnRedis(ctx: Ctx, lifetimeS: number): Promise<void> {
  const { o, report, print } = ctx;
  const redis = new RedisWatch(o.redisUrl);
  const unreachable = await redis.connect();
  if (unreachable) {
    redis.close();
    return report.add(`${REPLICAS} replicas on Redis`, na(`Redis at ${o.redisUrl}: ${unreachable}`));
  }
  const prefix = `wxtoken-bench-scale-${process.pid}-${Date.now().toString(36)}:`;
  const ports = await Promise.all(Array.from({ length: REPLICAS }, () => freePort()));
  const fake = await FakeProcess.start(o.n, lifetimeS, `http://127.0.0.1:${ports[0]}/wechat/open/${COMPONENT}`);
  const servers: ServerProcess[] = [];
  const clients: BenchClient[] = [];
  try {
    const background = await redis.rate(3);
    print(`  ${REPLICAS} replicas on Redis (${o.redisUrl}, prefix ${prefix}): restore of ${count(o.n)} with tokens of ${lifetimeS} s...`);
    for (let i = 0; i < REPLICAS; i++) {
      const s = await ServerProcess.start({
        dir: subdir(ctx, `replica-${i}`),
        name: `replica-${i}`,
        upstreamUrl: fake.url,
        receiverPort: ports[i]!,
        platform: ctx.traits.platform,
        store: { type: "redis", url: o.redisUrl, keyPrefix: prefix },
      });
      servers.push(s);
      clients.push(new BenchClient(s.target));
      // The fake pushes to replica 0 only (WeChat's one URL), and a replica asks for a push once for the
      // whole cluster: the others start once replica 0's receiver can take that push.
      if (i === 0 && !(await portOpen(ports[0]!, 60_000))) throw new Error(`replica 0's receiver is not listening; its log ends:\n${s.logTail()}`);
    }
    const seeded = Array.from({ length: o.n }, (_, i) => seededAuthorizerAppId(i));
    const restore = await followRestore(o.n, seeded, fake, servers, clients[0]!, o.timeoutMs, print);
    const cpu = restore.cpuSeconds === undefined ? "" : `, CPU ${restore.cpuSeconds.toFixed(1)} s over the ${REPLICAS}`;
    report.add(`${REPLICAS} replicas on Redis: restore`, restore.done ? `${seconds(restore.ms)}${cpu}; upstream ${peakText(restore.rates, restore.ms)}` : na(`limit reached at ${count(restore.progress.withToken)} of ${count(o.n)}`));
    if (!restore.done) return;
    const probe = sample(seeded, 100);
    const everywhere = await Promise.all(clients.map((c) => allServed(c, probe)));
    report.add("  served by every replica", everywhere.every(Boolean) ? "yes (a sample of 100 and the component on each)" : `no: ${everywhere.map((ok, i) => `replica ${i} ${ok ? "yes" : "no"}`).join(", ")}`);

    // Replicas 1 and 2 may still be taking in what replica 0 restored: steady state starts a little later.
    await sleep(SETTLE_MS);
    const base = (await fake.progress()).refreshes;
    const moved = async () => (await fake.progress()).refreshes > base;
    const steady = await redis.rate(Math.round(o.idleMs / 1000), moved);
    const early = (await fake.progress()).refreshes > base ? ` (refreshes began after ${seconds(steady.seconds * 1000)})` : "";
    const net = perSecond(Math.max(0, steady.average - background.average));
    report.add(
      "  Redis commands/s at steady state",
      `about ${net}: ${perSecond(steady.average)} measured (${perSecond(steady.peak)} in the busiest second), ${perSecond(background.average)} before the replicas started (Redis's other clients)${early}`,
    );

    await fake.resetCounts();
    const wave = await followWave(o.n, fake, waveLimitMs(ctx, lifetimeS), print, redis);
    const rates = await fake.rates();
    report.add(
      "  Redis commands/s during the refresh wave",
      wave.redis ? `${perSecond(wave.redis.average)} over the wave, ${perSecond(wave.redis.peak)} in the busiest second` : na("no refresh came"),
    );
    report.add("  upstream during the wave", `${peakText(rates, wave.ms)}; ${ceilingText(ctx)}`);
    report.add("  the wave", `${waveText(wave, o.n)}; ${count(rates.byPath[AUTHORIZER_TOKEN_PATH]?.calls ?? 0)} api_authorizer_token calls for the cluster`);
  } finally {
    for (const c of clients) c.close();
    await Promise.all(servers.map((s) => s.stop()));
    await fake.stop();
    const dropped = await redis.dropPrefix(prefix).catch(() => -1);
    if (dropped < 0) print(`  (could not drop the Redis keys under ${prefix}: delete them by hand)`);
    redis.close();
  }
}

/**
 * `npm run bench -- scale`: an Open Platform with N authorizers (default
 * 100,000) on the real server, each process of its own: the server
 * (`wxtoken serve`, whose CPU and RSS are read from /proc), the fake WeChat
 * holding the N accounts, and the GetToken load. Phases, each with a time
 * limit: 0 and 1 authorizer (baseline), a restore from WeChat's list into an
 * empty store, a restart on that store, memory, idle CPU, GetToken, a page of
 * ListAuthorizers (bench/scale/single.ts); a refresh wave on one server and
 * on 3 replicas sharing Redis (bench/scale/wave.ts). A number the server
 * cannot give yet prints as "n/a (why)"; a phase that fails says so and the
 * others still run.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LIST_PAGING } from "./scale/client.js";
import { type Ctx, Report, type ScaleOptions, serverTraits } from "./scale/context.js";
import { count, na, type Print, seconds } from "./scale/measure.js";
import { machine } from "./scale/proc.js";
import { baseline, type Memory, restoreAndRestart } from "./scale/single.js";
import { refreshWave, replicasOnRedis, waveLifetimeS } from "./scale/wave.js";

export type { ScaleOptions } from "./scale/context.js";

/** The options before the defaults that depend on the server: without --timeout, the limit fits a restore at the ceiling. */
export type ScaleArgs = Omit<ScaleOptions, "timeoutMs"> & { timeoutMs?: number };

function defaultTimeoutMs(n: number, ceiling: number | undefined): number {
  return Math.max(600_000, ceiling === undefined ? 0 : Math.ceil(1.5 * (n / ceiling) + 60) * 1000);
}

/** The options from the command line: --n N, --timeout S, --wave-lifetime S, --redis URL, --ceiling R, --idle S. */
export function scaleOptions(quick: boolean, flags: Record<string, string | undefined>): ScaleArgs {
  const num = (name: string, fallback?: number): number | undefined => {
    const raw = flags[name];
    if (raw === undefined) return fallback;
    const v = Number(raw.replace(/[_,]/g, ""));
    if (!(v > 0)) throw new Error(`--${name} takes a positive number, got "${raw}"`);
    return v;
  };
  return {
    n: Math.floor(num("n", quick ? 1000 : 100_000)!),
    quick,
    timeoutMs: flags["timeout"] === undefined ? undefined : num("timeout")! * 1000,
    idleMs: num("idle", quick ? 5 : 20)! * 1000,
    load: quick ? { rounds: 1, warmupMs: 300, durationMs: 1000 } : { rounds: 3, warmupMs: 1000, durationMs: 3000 },
    waveLifetimeS: num("wave-lifetime"),
    redisUrl: flags["redis"] ?? "redis://127.0.0.1:6379",
    ceiling: num("ceiling"),
  };
}

async function phase(ctx: Ctx, name: string, run: () => Promise<void>): Promise<void> {
  try {
    await run();
  } catch (err) {
    ctx.report.add(name, na(`failed: ${(err as Error).message.split("\n").join("\n    ")}`));
  }
}

export async function scaleBench(args: ScaleArgs, print: Print): Promise<Report> {
  const traits = serverTraits(args.ceiling);
  const o: ScaleOptions = { ...args, timeoutMs: args.timeoutMs ?? defaultTimeoutMs(args.n, traits.ceiling) };
  const dir = mkdtempSync(join(tmpdir(), "wxtoken-bench-scale-"));
  const ctx: Ctx = { o, dir, traits, report: new Report(), print };
  print(`Open Platform at scale: ${count(o.n)} authorizers; ${machine()}`);
  print(
    `  server: wxtoken serve in its own process, default store (${traits.defaultStore}), ` +
      `${traits.ceiling !== undefined ? `maxCallsPerSecond ${traits.ceiling}` : "no upstream ceiling in this build"}, ` +
      `ListAuthorizers ${LIST_PAGING ? "in pages" : "whole (no paging in this build)"}; limit ${seconds(o.timeoutMs)} a phase; scratch ${dir}`,
  );
  const started = Date.now();
  let zero: Memory | undefined;
  let restoreMs: number | undefined;
  await phase(ctx, "baseline (0 and 1 authorizer)", async () => void (zero = await baseline(ctx)));
  await phase(ctx, "restore and restart", async () => void (restoreMs = await restoreAndRestart(ctx, zero)));
  if (restoreMs === undefined) {
    const why = na("the restore did not finish, so no wave of its tokens");
    ctx.report.add("peak upstream calls/s, refresh wave", why);
    ctx.report.add("3 replicas on Redis", why);
  } else {
    const lifetimeS = waveLifetimeS(ctx, restoreMs);
    await phase(ctx, "refresh wave", () => refreshWave(ctx, lifetimeS));
    await phase(ctx, "3 replicas on Redis", () => replicasOnRedis(ctx, lifetimeS));
  }
  print("");
  print(`Open Platform at scale, ${count(o.n)} authorizers (${seconds(Date.now() - started)} in all):`);
  ctx.report.print(print);
  const failed = ctx.report.rows.some((r) => r.value.startsWith("n/a (failed"));
  if (failed) print(`  (server logs kept in ${dir})`);
  else rmSync(dir, { recursive: true, force: true });
  return ctx.report;
}

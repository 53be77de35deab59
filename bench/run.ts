/**
 * `npm run bench`: every bench once, bounded in time (under two minutes),
 * on 127.0.0.1 only. Prints numbers; never part of the tests.
 *
 *   node dist/bench/run.js [unary] [source] [fanout] [fanout-conn] [fanout-sse] [scale] [suite-scale] [--quick]
 *
 * fanout-conn: one connection per watcher, as production has them (every pod
 * its own). 10,000 connections need 10,000 descriptors on each side: the
 * bench raises nothing itself (Node cannot call setrlimit); run it where
 * `ulimit -n` is above 10,500 (20,000 on the machines here).
 *
 * fanout-sse: the same, over the HTTP API's server-sent events.
 *
 * scale: an Open Platform with N authorizers (bench/scale.ts; --n N, default
 * 100,000, 1,000 with --quick; --timeout S a phase; --wave-lifetime S;
 * --ceiling R; --idle S; --redis URL). It runs for minutes to hours, so only
 * when named: never in the default set, nor in CI's smoke run.
 *
 * suite-scale: a WeCom suite with N installed corps (bench/suite-scale.ts;
 * --n N, default 100,000; --ceiling R, default 1,000; --timeout S). Minutes
 * at 100,000, so only when named; the --quick smoke runs it with 300 corps.
 *
 * --quick shortens every phase (a smoke run, numbers not worth quoting).
 */
import { execFileSync } from "node:child_process";
import { cpus } from "node:os";
import { fanoutBench } from "./fanout.js";
import { scaleBench, scaleOptions } from "./scale.js";
import { suiteScaleBench, suiteScaleOptions } from "./suite-scale.js";
import { tokenSourceBench } from "./token-source.js";
import { unaryBench } from "./unary.js";

const args = process.argv.slice(2);
const quick = args.includes("--quick");
/** Flags that take a value (`--n 10000`): the value is not a bench's name. */
const VALUED = new Set(["--n", "--timeout", "--wave-lifetime", "--redis", "--ceiling", "--idle"]);
const flags: Record<string, string | undefined> = {};
const picked: string[] = [];
for (let i = 0; i < args.length; i++) {
  const a = args[i]!;
  if (VALUED.has(a)) flags[a.slice(2)] = args[++i];
  else if (!a.startsWith("--")) picked.push(a);
}
/** Benches run when none is named; the others only when named. */
const ON_DEMAND = new Set(["scale", "suite-scale"]);
/** On-demand benches the --quick smoke (CI's) runs all the same, small. */
const IN_SMOKE = new Set(["suite-scale"]);
const wanted = (name: string): boolean => picked.includes(name) || (picked.length === 0 && (!ON_DEMAND.has(name) || (quick && IN_SMOKE.has(name))));
const print = (s: string): void => void process.stdout.write(`${s}\n`);

async function main(): Promise<void> {
  print(`wxtoken bench: Node ${process.version}, ${cpus().length} CPUs (${cpus()[0]?.model.trim() ?? "unknown"})${quick ? ", --quick" : ""}\n`);
  const started = Date.now();
  if (wanted("unary")) {
    await unaryBench({ concurrency: 64, warmupMs: quick ? 300 : 1000, durationMs: quick ? 1000 : 5000, rounds: quick ? 1 : 3 }, print);
    print("");
  }
  if (wanted("source")) {
    await tokenSourceBench(quick ? 500 : 3000, print);
    print("");
  }
  if (wanted("fanout")) {
    await fanoutBench({ sizes: quick ? [1000] : [1000, 5000, 10_000], rotations: quick ? 3 : 15, perConnection: 250 }, print);
    print("");
  }
  for (const [name, transport] of [["fanout-conn", "grpc"], ["fanout-sse", "sse"]] as const) {
    if (!wanted(name)) continue;
    // 10,000 connections need a descriptor limit above 10,500 on each side.
    const limit = Number(execFileSync("sh", ["-c", "ulimit -n"], { encoding: "utf8" }).trim());
    const big = !quick && (Number.isNaN(limit) || limit > 10_500);
    if (!quick && !big) print(`(ulimit -n is ${limit}: one connection per watcher up to 1,000 only; raise it above 10,500 for 10,000)`);
    await fanoutBench({ sizes: quick ? [300] : big ? [1000, 10_000] : [1000], rotations: quick ? 3 : 10, perConnection: 1, transport }, print);
    print("");
  }
  if (wanted("scale")) {
    await scaleBench(scaleOptions(quick, flags), print);
    print("");
  }
  if (wanted("suite-scale")) {
    const report = await suiteScaleBench(suiteScaleOptions(quick, flags), print);
    print("");
    // The smoke fails on a bench that failed, not only on one that threw.
    if (report.rows.some((r) => r.label === "failed")) throw new Error("suite-scale failed (see above)");
  }
  print(`done in ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    console.error(err.stack ?? err.message);
    process.exit(1);
  },
);

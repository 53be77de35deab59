/**
 * The scale bench's phases on one server: its memory and GetToken rate with
 * 0 and 1 authorizer; a restore of N from WeChat's list into an empty store;
 * a restart on that store; then, with N held, RSS per authorizer, idle CPU,
 * GetToken on one authorizer and one page of ListAuthorizers.
 */
import { seededAuthorizerAppId } from "../../src/fake-wechat/index.js";
import { bytes, ms, percentile, sleep } from "../support/stats.js";
import { BenchClient, LIST_PAGING } from "./client.js";
import { type Ctx, subdir } from "./context.js";
import { COMPONENT, FakeProcess } from "./fake.js";
import { allServed, count, followRestore, getTokenRate, na, peakText, rateText, sample, seconds } from "./measure.js";
import { freePort } from "./proc.js";
import { ServerProcess } from "./server.js";

/** WeChat's lifetime: no token comes due during these phases. */
const LONG_LIFETIME_S = 7200;
const ONE_AUTHORIZER = "wxbenchauthorizer1";

export interface Memory {
  rss: number | undefined;
  heapUsed: number | undefined;
  gc: boolean;
}

async function memory(server: ServerProcess): Promise<Memory> {
  await sleep(1000);
  const gc = await server.collectGarbage();
  return { rss: server.rssBytes(), heapUsed: gc?.heapUsed, gc: gc !== undefined };
}

async function until(what: string, limitMs: number, check: () => Promise<boolean>): Promise<void> {
  const end = Date.now() + limitMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`${what}: not within ${seconds(limitMs)}`);
    await sleep(100);
  }
}

async function startPair(ctx: Ctx, dirName: string, authorizers: number, lifetimeS: number): Promise<{ fake: FakeProcess; server: ServerProcess; client: BenchClient; receiverPort: number; dir: string }> {
  const receiverPort = await freePort();
  const fake = await FakeProcess.start(authorizers, lifetimeS, `http://127.0.0.1:${receiverPort}/wechat/open/${COMPONENT}`);
  const dir = subdir(ctx, dirName);
  const server = await ServerProcess.start({ dir, name: "server", upstreamUrl: fake.url, receiverPort, platform: ctx.traits.platform });
  return { fake, server, client: new BenchClient(server.target), receiverPort, dir };
}

/** Memory with 0 authorizers, then GetToken on the one that authorizes. */
export async function baseline(ctx: Ctx): Promise<Memory> {
  const { fake, server, client } = await startPair(ctx, "baseline", 0, LONG_LIFETIME_S);
  try {
    await until("the component token", 60_000, () => allServed(client, []));
    const mem = await memory(server);
    ctx.report.add("RSS with 0 authorizers", mem.rss === undefined ? na("no /proc") : `${bytes(mem.rss)}${mem.gc ? " after a full GC" : " (no GC: inspector unreachable)"}`);
    await fake.authorize(ONE_AUTHORIZER);
    await until("the authorizer", 30_000, () => allServed(client, [ONE_AUTHORIZER]));
    ctx.report.add("GetToken on an authorizer, N = 1", rateText(await getTokenRate(client, server.target, ONE_AUTHORIZER, ctx.o.load)));
    return mem;
  } finally {
    client.close();
    await server.stop();
    await fake.stop();
  }
}

/** Restore, restart on the store, then the numbers with N held. Returns the restore's duration when it finished. */
export async function restoreAndRestart(ctx: Ctx, zero: Memory | undefined): Promise<number | undefined> {
  const { o, report, print } = ctx;
  const seeded = Array.from({ length: o.n }, (_, i) => seededAuthorizerAppId(i));
  const pair = await startPair(ctx, "main", o.n, LONG_LIFETIME_S);
  const { fake } = pair;
  let server = pair.server;
  let client = pair.client;
  try {
    print(`  restore of ${count(o.n)} from WeChat's list into an empty ${ctx.traits.defaultStore} store (limit ${seconds(o.timeoutMs)})...`);
    const restore = await followRestore(o.n, seeded, fake, [server], client, o.timeoutMs, print);
    const cpu = restore.cpuSeconds === undefined ? "CPU n/a" : `server CPU ${restore.cpuSeconds.toFixed(1)} s`;
    report.add(
      "restore from an empty store",
      restore.done
        ? `${seconds(restore.ms)}, ${cpu}`
        : na(`limit of ${seconds(o.timeoutMs)} reached at ${count(restore.progress.withToken)} of ${count(o.n)} fetched; ${cpu}`),
    );
    report.add("  peak upstream calls/s during it", peakText(restore.rates, restore.ms));
    const listed = await client.listAll();
    if (!restore.done) report.add("  held when the limit ran out", `${count(listed.appIds.length)} listed, ${count(listed.withToken.length)} of them with a token`);
    // After an unfinished restore, the later phases run on the accounts it got a token for.
    const held = restore.done ? seeded : listed.withToken;
    if (held.length === 0) throw new Error("nothing was restored: no later phase can run");

    print(`  restart on that store (${count(held.length)} authorizers)...`);
    await server.stop();
    client.close();
    await fake.resetCounts();
    server = await ServerProcess.start({ dir: pair.dir, name: "server", upstreamUrl: fake.url, receiverPort: pair.receiverPort, platform: ctx.traits.platform });
    client = new BenchClient(server.target);
    const probe = sample(held);
    const last = held[held.length - 1]!;
    let servedAt: number | undefined;
    while (Date.now() - server.startedAt < o.timeoutMs && server.alive) {
      if ((await client.served([COMPONENT, last], 500)) === 2 && (await allServed(client, probe))) {
        servedAt = Date.now();
        break;
      }
      await sleep(100);
    }
    const rates = await fake.rates();
    const calls = rates.total.calls;
    const byPath = Object.entries(rates.byPath).map(([path, r]) => `${path.slice(path.lastIndexOf("/") + 1)} ${count(r.calls)}`);
    report.add(
      `start from the store (${count(held.length)})`,
      servedAt !== undefined ? `${seconds(servedAt - server.startedAt)} to the component and all served` : na(server.alive ? `not all served within ${seconds(o.timeoutMs)}` : `the server exited: ${server.logTail(3)}`),
    );
    const expected = restore.done ? "0 expected: every stored token is valid" : "the unfinished restore left some accounts without a token";
    report.add("  upstream calls during it", calls === 0 ? "0" : `${count(calls)}: ${byPath.join(", ")} (${expected})`);
    if (servedAt === undefined) return restore.done ? restore.ms : undefined;

    const mem = await memory(server);
    const per = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined ? na("no /proc or no inspector") : bytes((a - b) / held.length));
    report.add(`RSS with ${count(held.length)}`, mem.rss === undefined ? na("no /proc") : bytes(mem.rss));
    report.add("  RSS per authorizer", zero ? `${per(mem.rss, zero.rss)}${mem.gc ? " (after a full GC)" : ""}` : na("no baseline"));
    report.add("  V8 heap per authorizer", zero ? per(mem.heapUsed, zero.heapUsed) : na("no baseline"));

    // Two windows: the first still holds the start's aftermath (V8 shrinks the
    // heap the load grew, about a second of CPU at 100,000, once); the second,
    // 10 s later, is the steady state.
    const callsBefore = (await fake.rates()).total.calls;
    const cpuShare = async (): Promise<string> => {
      const cpu0 = server.cpuSeconds();
      await sleep(o.idleMs);
      const cpu1 = server.cpuSeconds();
      return cpu0 === undefined || cpu1 === undefined ? na("no /proc") : `${(((cpu1 - cpu0) * 1000) / o.idleMs * 100).toFixed(2)} % of a core`;
    };
    const first = await cpuShare();
    await sleep(10_000);
    const steady = await cpuShare();
    const idleCalls = (await fake.rates()).total.calls - callsBefore;
    report.add(`idle CPU over ${seconds(o.idleMs)}, steady`, `${steady} (${count(idleCalls)} upstream calls)`);
    report.add(`  the ${seconds(o.idleMs)} right after the start`, first);

    report.add(`GetToken on an authorizer, N = ${count(held.length)}`, rateText(await getTokenRate(client, server.target, last, o.load)));
    await listPages(ctx, client, held.length);
    return restore.done ? restore.ms : undefined;
  } finally {
    client.close();
    await server.stop();
    await fake.stop();
  }
}

/** One page of ListAuthorizers: the default page and the largest, or the whole list without paging. */
async function listPages(ctx: Ctx, client: BenchClient, held: number): Promise<void> {
  const sizes = LIST_PAGING ? [0, 1000] : [0];
  for (const size of sizes) {
    const runs = [];
    for (let i = 0; i < (ctx.o.quick ? 3 : 7); i++) runs.push(await client.listPage(size));
    const first = runs[0]!;
    const what = LIST_PAGING ? `ListAuthorizers, page_size ${size === 0 ? "unset (default)" : count(size)}` : `ListAuthorizers (no paging in this build: all ${count(held)})`;
    ctx.report.add(what, `${ms(percentile(runs.map((r) => r.ms), 50))} median, ${bytes(first.bytes)}, ${count(first.appIds.length)} authorizers${first.total !== undefined ? ` of ${count(first.total)}` : ""}`);
  }
}

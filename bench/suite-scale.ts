/**
 * `npm run bench -- suite-scale`: a WeCom suite with N installed corps
 * (default 100,000) on the real server (`wxtoken serve` in its own process,
 * SQLite store; its CPU and RSS read from /proc). The fake WeCom runs in the
 * bench's process, the GetToken load in a third.
 *
 * The store is seeded as a previous run would have left it after N installs:
 * the suite_ticket and each corp's permanent code and agent, no token. Then:
 * the first start (loaded and listed; every corp's token fetched, paced under
 * the suite's maxCallsPerSecond), a restart on that store (every token
 * stored: no upstream call), RSS per corp against a server with none, idle
 * CPU, GetToken on one corp, one page of ListAuthorizers, and what one
 * cancel_auth and one create_auth cost among N.
 *
 *   node dist/bench/run.js suite-scale [--n N] [--ceiling R] [--timeout S] [--quick]
 *
 * --ceiling: the suite's maxCallsPerSecond (default 1,000, the most the config
 * takes: the first start then needs N / 1,000 seconds). --quick: N = 300,
 * short phases (the CI smoke; numbers not worth quoting).
 */
import { credentials, Metadata, status, type ServiceError } from "@grpc/grpc-js";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GetTokenRequest, GetTokenResponse, ListAuthorizersRequest, ListAuthorizersResponse, TokenServiceClient } from "../generated/wxtoken/v1/token_service.js";
import { FakeWeChat } from "../src/fake-wechat/index.js";
import type { StoredAuthorizer } from "../src/platform/store.js";
import { SqliteStore } from "../src/store/sqlite-store.js";
import { Report } from "./scale/context.js";
import { count, na, type Print, sample, seconds } from "./scale/measure.js";
import { machine, freePort } from "./scale/proc.js";
import { ServerProcess } from "./scale/server.js";
import { LoadProcess } from "./support/child.js";
import type { FromUnaryClient, UnaryLoad } from "./support/protocol.js";
import { startBareServer } from "./support/servers.js";
import { bytes, ms, percentile, perSecond, sleep } from "./support/stats.js";

const SUITE_ID = "wwbenchsuite000001";
const ENV = {
  BENCH_SUITE_SECRET: "bench-suite-secret-0123456789",
  BENCH_SUITE_TOKEN: "bench-suite-callback-token",
  BENCH_SUITE_AES_KEY: "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
};
const CORP_TOKEN_PATH = "/cgi-bin/service/get_corp_token";
const corpOf = (i: number) => `wwbenchcorp${String(i).padStart(9, "0")}`;

export interface SuiteScaleOptions {
  /** Installed corps. */
  n: number;
  quick: boolean;
  /** The suite's maxCallsPerSecond. */
  ceiling: number;
  /** The time limit of the first start (and of the restart). */
  timeoutMs: number;
  /** How long the server is watched doing nothing. */
  idleMs: number;
  /** The GetToken load: rounds of durationMs, after warmupMs. */
  load: { rounds: number; warmupMs: number; durationMs: number };
  /** How many cancel_auth and create_auth pushes are timed. */
  changes: number;
}

/** The options from the command line: --n N, --ceiling R, --timeout S. */
export function suiteScaleOptions(quick: boolean, flags: Record<string, string | undefined>): SuiteScaleOptions {
  const num = (name: string, fallback: number): number => {
    const raw = flags[name];
    if (raw === undefined) return fallback;
    const v = Number(raw.replace(/[_,]/g, ""));
    if (!(v > 0)) throw new Error(`--${name} takes a positive number, got "${raw}"`);
    return v;
  };
  const n = Math.floor(num("n", quick ? 300 : 100_000));
  const ceiling = num("ceiling", 1000);
  return {
    n,
    quick,
    ceiling,
    timeoutMs: num("timeout", Math.max(300, Math.ceil((2 * n) / ceiling + 60))) * 1000,
    idleMs: quick ? 2000 : 10_000,
    load: quick ? { rounds: 1, warmupMs: 300, durationMs: 1000 } : { rounds: 3, warmupMs: 1000, durationMs: 3000 },
    changes: quick ? 3 : 7,
  };
}

/** The config the bench serves with: the one suite, its corps' tokens only (no JS-SDK tickets), a SQLite store. */
function suiteConfig(fake: FakeWeChat, dir: string, receiverPort: number, ceiling: number): (grpcPort: number) => Record<string, unknown> {
  return (grpcPort) => ({
    listen: `127.0.0.1:${grpcPort}`,
    upstream: { baseUrl: fake.url, wecomBaseUrl: fake.wecomUrl },
    store: { type: "sqlite", path: join(dir, "wxtoken.db") },
    wecomProviders: {
      receiver: { listen: `127.0.0.1:${receiverPort}` },
      suites: [
        {
          suiteId: SUITE_ID,
          secretEnv: "BENCH_SUITE_SECRET",
          messageTokenEnv: "BENCH_SUITE_TOKEN",
          encodingAesKeyEnv: "BENCH_SUITE_AES_KEY",
          maxCallsPerSecond: ceiling,
        },
      ],
    },
  });
}

/** The bench's gRPC calls: GetToken of a corp through the suite, ListAuthorizers of the suite. */
class SuiteClient {
  readonly grpc: TokenServiceClient;

  constructor(readonly target: string) {
    // A server still loading its store is not listening yet: retry every ~100 ms, not with grpc-js's backoff.
    this.grpc = new TokenServiceClient(target, credentials.createInsecure(), { "grpc.initial_reconnect_backoff_ms": 100, "grpc.max_reconnect_backoff_ms": 200 });
  }

  ready(timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => this.grpc.waitForReady(Date.now() + timeoutMs, (err) => (err ? reject(err) : resolve())));
  }

  /** GetToken of the corp's token through the suite (or of the suite's own token without a corp). */
  getToken(corpId?: string, deadlineMs = 2000): Promise<GetTokenResponse> {
    const req = GetTokenRequest.fromPartial(corpId === undefined ? { appId: SUITE_ID } : { appId: corpId, platformId: SUITE_ID });
    return new Promise((resolve, reject) =>
      this.grpc.getToken(req, new Metadata(), { deadline: Date.now() + deadlineMs }, (err: ServiceError | null, res?: GetTokenResponse) => (err ? reject(err) : resolve(res!))),
    );
  }

  /** How many of these corps' tokens GetToken answers (32 in flight). */
  async served(corps: readonly string[]): Promise<number> {
    let ok = 0;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < corps.length) {
        const answered = await this.getToken(corps[next++]!).then(
          () => 1,
          () => 0,
        );
        ok += answered;
      }
    };
    await Promise.all(Array.from({ length: 32 }, worker));
    return ok;
  }

  /** One page (pageSize 0: the server's default), timed, with its size on the wire. */
  async page(pageSize = 0, pageToken = ""): Promise<{ res: ListAuthorizersResponse; ms: number; bytes: number }> {
    const req = ListAuthorizersRequest.fromPartial({ componentAppId: SUITE_ID, pageSize, pageToken });
    const started = performance.now();
    const res = await new Promise<ListAuthorizersResponse>((resolve, reject) =>
      this.grpc.listAuthorizers(req, new Metadata(), { deadline: Date.now() + 60_000 }, (err: ServiceError | null, r?: ListAuthorizersResponse) => (err ? reject(err) : resolve(r!))),
    );
    return { res, ms: performance.now() - started, bytes: ListAuthorizersResponse.encode(res).finish().length };
  }

  /** Every corp listed (pages of 1,000), and how many of them hold a token. */
  async listAll(): Promise<{ listed: number; withToken: number }> {
    let listed = 0;
    let withToken = 0;
    for (let token = ""; ; ) {
      const { res } = await this.page(1000, token);
      listed += res.authorizers.length;
      withToken += res.authorizers.filter((a) => Number(a.tokenVersion) > 0).length;
      if (!res.nextPageToken) return { listed, withToken };
      token = res.nextPageToken;
    }
  }

  close(): void {
    this.grpc.close();
  }
}

/** RSS (and V8's heap) after a full GC through the inspector. */
async function memory(server: ServerProcess): Promise<{ rss: number | undefined; heap: number | undefined }> {
  await sleep(1000);
  const gc = await server.collectGarbage();
  return { rss: server.rssBytes(), heap: gc?.heapUsed };
}

async function until(what: string, limitMs: number, check: () => Promise<boolean> | boolean, everyMs = 100): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > limitMs) throw new Error(`${what}: not within ${seconds(limitMs)}`);
    await sleep(everyMs);
  }
  return Date.now();
}

/** GetToken calls/s on one corp (64 in flight, the client in its own process), and a bare grpc-js server answering the same reply. */
async function getTokenRate(client: SuiteClient, corpId: string, o: SuiteScaleOptions["load"]): Promise<string> {
  const bare = await startBareServer(await client.getToken(corpId));
  const run = async (target: string): Promise<number> => {
    const load = new LoadProcess<FromUnaryClient>("unary-client.js");
    try {
      load.send({ type: "unary", target, kind: "getToken", appId: corpId, platformId: SUITE_ID, credential: 0, concurrency: 64, warmupMs: o.warmupMs, durationMs: o.durationMs } satisfies UnaryLoad);
      const r = await load.next("unary-result", o.warmupMs + o.durationMs + 30_000);
      if (r.errors > 0) throw new Error(`GetToken ${corpId}: ${r.errors} calls failed, first: ${r.firstError}`);
      return r.calls;
    } finally {
      await load.stop();
    }
  };
  try {
    let wx = 0;
    let b = 0;
    for (let i = 0; i < o.rounds; i++) {
      wx += await run(client.target);
      b += await run(bare.target);
    }
    const secs = (o.rounds * o.durationMs) / 1000;
    return `${perSecond(wx / secs)} (${((wx / b) * 100).toFixed(0)} % of bare grpc-js's ${perSecond(b / secs)})`;
  } finally {
    await bare.close();
  }
}

const isNotFound = (err: unknown) => (err as ServiceError).code === status.NOT_FOUND;

export async function suiteScaleBench(o: SuiteScaleOptions, print: Print): Promise<Report> {
  const report = new Report();
  const dir = mkdtempSync(join(tmpdir(), "wxtoken-bench-suite-"));
  const corps = Array.from({ length: o.n }, (_, i) => corpOf(i));
  print(`WeCom suite at scale: ${count(o.n)} installed corps; ${machine()}`);
  print(`  server: wxtoken serve in its own process, SQLite store, maxCallsPerSecond ${count(o.ceiling)}, corp tokens only (no JS-SDK tickets); scratch ${dir}`);
  const started = Date.now();
  const receiverPort = await freePort();
  const pushUrl = `http://127.0.0.1:${receiverPort}/wechat/wecom/${SUITE_ID}`;

  // The fake WeCom, with the N corps installed before it starts (no push).
  let t = Date.now();
  const fake = new FakeWeChat({
    apps: {},
    suites: [
      {
        suiteId: SUITE_ID,
        secret: ENV.BENCH_SUITE_SECRET,
        token: ENV.BENCH_SUITE_TOKEN,
        encodingAesKey: ENV.BENCH_SUITE_AES_KEY,
        pushUrl,
        corps: Object.fromEntries(corps.map((c) => [c, {}])),
      },
    ],
  });
  await fake.start();
  const suite = fake.suite(SUITE_ID);
  report.add("fake WeCom with N corps installed (bench setup)", seconds(Date.now() - t));
  const servers: ServerProcess[] = [];
  const spawn = (name: string, storeDir: string) => {
    mkdirSync(storeDir, { recursive: true });
    return ServerProcess.spawn({ dir, name, config: suiteConfig(fake, storeDir, receiverPort, o.ceiling), env: ENV }).then((s) => (servers.push(s), s));
  };
  let client: SuiteClient | undefined;
  try {
    // Baseline: the same server with no corp installed, holding the suite token.
    const zeroServer = await spawn("zero", join(dir, "zero"));
    client = new SuiteClient(zeroServer.target);
    await client.ready(60_000);
    await suite.pushTicket();
    await until("the suite token (no corp)", 60_000, () => client!.getToken().then(() => true, () => false));
    const zero = await memory(zeroServer);
    report.add("RSS with 0 corps", zero.rss === undefined ? na("no /proc") : bytes(zero.rss));
    client.close();
    await zeroServer.stop();

    // The store as N installs left it: the ticket, each corp's permanent code and agent; no token.
    t = Date.now();
    const storeDir = join(dir, "main");
    mkdirSync(storeDir, { recursive: true });
    const seeding = new SqliteStore({ path: join(storeDir, "wxtoken.db") });
    await seeding.load();
    const now = Date.now();
    await seeding.saveTicket(SUITE_ID, { value: suite.state.newTicket(), createdAt: now, receivedAt: now, expiresAt: now + 30 * 60_000 });
    const records: StoredAuthorizer[] = corps.map((c) => ({
      appId: c,
      refreshToken: suite.permanentCodeOf(c)!,
      status: "active",
      authorizedAt: now,
      updatedAt: now,
      agents: [String(suite.corp(c)!.agentId)],
    }));
    for (let i = 0; i < records.length; i += 1000) await seeding.saveAuthorizers(SUITE_ID, records.slice(i, i + 1000));
    await seeding.close();
    report.add("store seeded with N permanent codes (bench setup)", seconds(Date.now() - t));

    // First start: the corps loaded and listed, then every corp's token fetched under the ceiling.
    print(`  first start on ${count(o.n)} stored permanent codes, no token (limit ${seconds(o.timeoutMs)})...`);
    fake.resetCounts();
    let server = await spawn("main", storeDir);
    client = new SuiteClient(server.target);
    await client.ready(o.timeoutMs);
    const c1 = client;
    const listedAt = await until("all corps listed", o.timeoutMs, () => c1.page(1).then((p) => p.res.totalSize === o.n, () => false), 20);
    report.add("first start: loaded and listed", `${seconds(listedAt - server.startedAt)} from spawn to ListAuthorizers total_size ${count(o.n)}`);
    const probe = sample(corps);
    let lastPrint = Date.now();
    const heldAt = await until(
      "every corp's token",
      o.timeoutMs,
      async () => {
        if (!server.alive) throw new Error(`the server exited; its log ends:\n${server.logTail(5)}`);
        const fetched = fake.calls(CORP_TOKEN_PATH);
        if (Date.now() - lastPrint >= 30_000) {
          lastPrint = Date.now();
          print(`    · ${seconds(lastPrint - server.startedAt)}: ${count(fetched)} of ${count(o.n)} corp tokens fetched, server CPU ${server.cpuSeconds()?.toFixed(0) ?? "?"} s`);
        }
        return fetched >= o.n && (await c1.served(probe)) === probe.length;
      },
      200,
    );
    const firstRates = fake.rates();
    const corpRate = firstRates.byPath[CORP_TOKEN_PATH]!;
    const heldMs = heldAt - server.startedAt;
    report.add("first start: all tokens held", `${seconds(heldMs)} from spawn, server CPU ${server.cpuSeconds()?.toFixed(1) ?? "n/a"} s`);
    report.add(
      "  get_corp_token calls",
      `${count(corpRate.calls)}: ${perSecond(corpRate.busiestSecond)} in the busiest second${heldMs >= 60_000 ? `, ${perSecond(corpRate.busiestMinute / 60)} over the busiest minute` : ""} (ceiling ${count(o.ceiling)}/s)`,
    );
    report.add("  get_permanent_code calls", count(fake.calls("/cgi-bin/service/get_permanent_code")));
    const all = await client.listAll();
    report.add("  listed with a token", `${count(all.withToken)} of ${count(all.listed)}`);

    // Restart on that store: every token stored and valid.
    print(`  restart on that store...`);
    client.close();
    await server.stop();
    fake.resetCounts();
    server = await spawn("restart", storeDir);
    client = new SuiteClient(server.target);
    await client.ready(o.timeoutMs);
    const c2 = client;
    const last = corps[corps.length - 1]!;
    const servedAt = await until("all served after the restart", o.timeoutMs, async () => (await c2.page(1).then((p) => p.res.totalSize === o.n, () => false)) && (await c2.served(probe)) === probe.length, 20);
    report.add("restart: all served", `${seconds(servedAt - server.startedAt)} from spawn (${count(fake.rates().total.calls)} upstream calls)`);

    const mem = await memory(server);
    report.add(`RSS with ${count(o.n)} corps`, mem.rss === undefined ? na("no /proc") : bytes(mem.rss));
    report.add("  RSS per corp", mem.rss === undefined || zero.rss === undefined ? na("no /proc") : `${bytes((mem.rss - zero.rss) / o.n)} (after a full GC)`);
    report.add("  V8 heap per corp", mem.heap === undefined || zero.heap === undefined ? na("no inspector") : bytes((mem.heap - zero.heap) / o.n));

    const cpu0 = server.cpuSeconds();
    const calls0 = fake.rates().total.calls;
    await sleep(o.idleMs);
    const cpu1 = server.cpuSeconds();
    report.add(
      `idle CPU over ${seconds(o.idleMs)}`,
      cpu0 === undefined || cpu1 === undefined ? na("no /proc") : `${(((cpu1 - cpu0) * 1000) / o.idleMs * 100).toFixed(2)} % of a core (${count(fake.rates().total.calls - calls0)} upstream calls)`,
    );

    report.add(`GetToken on one corp, N = ${count(o.n)}`, await getTokenRate(client, last, o.load));

    for (const size of [0, 1000]) {
      const runs = [];
      for (let i = 0; i < (o.quick ? 3 : 7); i++) runs.push(await client.page(size));
      report.add(
        `ListAuthorizers, page_size ${size === 0 ? "unset (100)" : count(size)}`,
        `${ms(percentile(runs.map((r) => r.ms), 50))} median, ${bytes(runs[0]!.bytes)}, ${count(runs[0]!.res.authorizers.length)} of ${count(runs[0]!.res.totalSize)}`,
      );
    }

    // One cancel_auth at a time: the push answered, then GetToken of that corp NOT_FOUND.
    const answered: number[] = [];
    const gone: number[] = [];
    const cpuBefore = server.cpuSeconds();
    for (const corpId of corps.slice(0, o.changes)) {
      const t0 = performance.now();
      const r = await suite.cancel(corpId);
      if (r.body !== "success") throw new Error(`cancel_auth of ${corpId}: the receiver answered ${r.status} ${r.body}`);
      answered.push(r.elapsedMs);
      await until(`${corpId} no longer served`, 30_000, () => c2.getToken(corpId).then(() => false, isNotFound), 1);
      gone.push(performance.now() - t0);
    }
    const cpuAfter = server.cpuSeconds();
    const total = (await client.page(1)).res.totalSize;
    report.add(
      "one cancel_auth",
      `answered in ${ms(percentile(answered, 50))}, corp not served after ${ms(percentile(gone, 50))} (medians of ${o.changes}; ${count(total)} listed after)` +
        (cpuBefore === undefined || cpuAfter === undefined ? "" : `, server CPU ${ms((((cpuAfter - cpuBefore) * 1000) / o.changes))} each`),
    );

    // One create_auth at a time: the push answered (WeCom wants it within 1 s), then the new corp's token served.
    const installAnswered: number[] = [];
    const installServed: number[] = [];
    for (let i = 0; i < o.changes; i++) {
      const corpId = corpOf(o.n + i);
      const t0 = performance.now();
      const r = await suite.install(corpId);
      if (r.body !== "success") throw new Error(`create_auth of ${corpId}: the receiver answered ${r.status} ${r.body}`);
      installAnswered.push(r.elapsedMs);
      await until(`${corpId} served`, 30_000, () => c2.getToken(corpId).then(() => true, () => false), 1);
      installServed.push(performance.now() - t0);
    }
    report.add("one create_auth", `answered in ${ms(percentile(installAnswered, 50))}, corp's token served after ${ms(percentile(installServed, 50))} (medians of ${o.changes})`);
  } catch (err) {
    report.add("failed", (err as Error).message.split("\n").join("\n    "));
  } finally {
    client?.close();
    for (const s of servers) await s.stop();
    await fake.close();
  }
  print("");
  print(`WeCom suite at scale, ${count(o.n)} corps (${seconds(Date.now() - started)} in all):`);
  report.print(print);
  if (report.rows.some((r) => r.label === "failed")) print(`  (server logs kept in ${dir})`);
  else rmSync(dir, { recursive: true, force: true });
  return report;
}

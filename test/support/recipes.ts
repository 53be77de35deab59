/**
 * What the recipe tests (test/interop/recipe-*.test.ts) share: a real wxtoken with the
 * fake WeChat, the two ways WeChat refuses a token, and the counts that show
 * a recipe recovers with one passive refresh and fails in bounded time when
 * WeChat keeps refusing. Each recipe runs in its own process (its language's
 * runner under test/recipes/), on real time.
 */
import { execFile } from "node:child_process";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { FakeClock } from "../../src/clock.js";
import { APP, Harness } from "./harness.js";

export type { Harness };

export const CALLBACK_IP = "/cgi-bin/getcallbackip";

/** Whether this is CI, where a missing toolchain fails a recipe test instead of skipping it. */
export const inCI = Boolean(process.env.CI) && !/^(0|false)$/i.test(process.env.CI ?? "");

export interface RecipeRun {
  /** The exit code; null when the process was killed (it outlived its timeout). */
  code: number | null;
  stdout: string;
  stderr: string;
  /** The runner's last stdout line, parsed: {ok: true, ips} or {ok: false, errcode, error}. */
  result: Record<string, unknown> | undefined;
}

/**
 * wxtoken (gRPC, HTTP and metrics listeners) with the demo's 120-second
 * tokens. The shared clock starts 65 s behind real time, so a recipe (on real
 * time) holds a token 55 s from its expiry: under the minute in which
 * wechatpy fetches again, the case that looped.
 */
export function startForRecipes(): Promise<Harness> {
  return Harness.start({
    clock: new FakeClock(Date.now() - 65_000),
    expiresIn: 120,
    config: { http: { listen: "127.0.0.1:0" }, metrics: { listen: "127.0.0.1:0" } },
  });
}

/** The environment every runner reads. */
export function recipeEnv(h: Harness): Record<string, string> {
  return {
    WXTOKEN_APP_ID: APP,
    WXTOKEN_ADDR: `127.0.0.1:${h.port}`,
    WXTOKEN_HTTP: `http://127.0.0.1:${h.server.httpPort}`,
    WECHAT_API_BASE: `${h.fake.url}/cgi-bin/`,
  };
}

/** Runs a recipe's runner to its end (or its timeout), whatever its exit code. */
export function runRecipe(command: string, args: string[], env: Record<string, string>, timeoutMs = 30_000): Promise<RecipeRun> {
  return new Promise((resolve) => {
    // Async, not execFileSync: the server answering the child runs in this process.
    execFile(command, args, { env: { ...process.env, ...env }, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : null) : 0;
      const last = stdout.trim().split("\n").pop() ?? "";
      let result: Record<string, unknown> | undefined;
      try {
        result = JSON.parse(last) as Record<string, unknown>;
      } catch {
        result = undefined;
      }
      resolve({ code, stdout, stderr, result });
    });
  });
}

/** ForceRefresh calls wxtoken finished, over gRPC and HTTP alike, whatever their status. */
async function forceRefreshCalls(h: Harness): Promise<number> {
  const text = await h.server.metrics!.scrape();
  let n = 0;
  for (const line of text.split("\n")) {
    const m = /^wxtoken_rpc_total\{(.*)\} (\S+)$/.exec(line);
    if (m && /ForceRefresh/.test(m[1]!)) n += Number(m[2]);
  }
  return n;
}

/** Passive refreshes wxtoken made of the value with this fingerprint (its log). */
function passiveRefreshesOf(h: Harness, fingerprint: string): number {
  return h.logs.lines
    .map((l) => JSON.parse(l) as { msg?: string; stale?: string })
    .filter((l) => l.msg === "passive refresh requested" && l.stale === fingerprint).length;
}

function describeRun(run: RecipeRun): string {
  return `exit ${run.code}\n--- stdout (tail)\n${run.stdout.slice(-2000)}\n--- stderr (tail)\n${run.stderr.slice(-3000)}`;
}

/** The token wxtoken holds now; the counts start from here. */
async function settle(h: Harness): Promise<{ value: string; fingerprint: string }> {
  const held = (await h.getToken(APP)).token!;
  h.fake.resetCounts();
  return { value: held.accessToken, fingerprint: held.fingerprint };
}

/**
 * WeChat refuses the token wxtoken holds (40001 from getcallbackip, as once
 * someone else fetched a new one): the recipe reports that token once, gets a
 * new one, and its call succeeds on the retry.
 */
export async function expectRecovery(h: Harness, run: () => Promise<RecipeRun>): Promise<void> {
  const held = await settle(h);
  h.fake.invalidateTokens(APP);
  const done = await run();
  expect(done.code, describeRun(done)).toBe(0);
  expect(done.result, describeRun(done)).toMatchObject({ ok: true, ips: 7 });
  // Exactly one ForceRefresh, with the refused token: one new token from WeChat.
  expect(await forceRefreshCalls(h)).toBe(1);
  expect(passiveRefreshesOf(h, held.fingerprint)).toBe(1);
  expect(h.fake.calls("/cgi-bin/token", APP)).toBe(1);
  // The refused call and its one retry.
  expect(h.fake.calls(CALLBACK_IP)).toBe(2);
  const now = (await h.getToken(APP)).token!;
  expect(now.accessToken).not.toBe(held.value);
  expect(h.fake.isValid(APP, now.accessToken)).toBe(true);
}

/**
 * Two callers in one process carry the token wxtoken holds and WeChat refuses
 * it to both; the first to report it rotates it, so the second reports a token
 * its recipe no longer holds. That report must name the refused token, which
 * wxtoken already replaced: a no-op answering the new one. Reporting the
 * recipe's current token instead (the new, good one) would make wxtoken ask
 * WeChat about it (a fifth getcallbackip) or fetch yet another token.
 */
export async function expectRecoveryAfterRotation(h: Harness, run: () => Promise<RecipeRun>): Promise<void> {
  const held = await settle(h);
  h.fake.invalidateTokens(APP);
  const done = await run();
  expect(done.code, describeRun(done)).toBe(0);
  expect(done.result, describeRun(done)).toMatchObject({ ok: true, ips: 7, callers: 2 });
  // Both callers reported the refused token; one new token from WeChat, no check of the new one.
  expect(await forceRefreshCalls(h)).toBe(2);
  expect(passiveRefreshesOf(h, held.fingerprint)).toBe(1);
  expect(h.fake.calls("/cgi-bin/token", APP)).toBe(1);
  // Two refused calls and their two retries.
  expect(h.fake.calls(CALLBACK_IP)).toBe(4);
  const now = (await h.getToken(APP)).token!;
  expect(now.accessToken).not.toBe(held.value);
  expect(h.fake.isValid(APP, now.accessToken)).toBe(true);
}

/**
 * WeChat refuses every token (getcallbackip answers 40001 whatever it is
 * sent): the recipe retries once and fails with WeChat's error (exit 3), in
 * bounded calls. `forceRefreshes`: how many the SDK's own hook makes (one
 * retry, but WxJava reports the second refusal too).
 */
export async function expectBoundedFailure(h: Harness, run: () => Promise<RecipeRun>, forceRefreshes = 1): Promise<void> {
  const held = await settle(h);
  h.fake.inject({ path: CALLBACK_IP, errcode: 40001, times: Infinity });
  const done = await run();
  expect(done.code, describeRun(done)).toBe(3);
  expect(done.result, describeRun(done)).toMatchObject({ ok: false, errcode: 40001 });
  expect(String(done.result!["error"])).toMatch(/40001/);
  expect(h.fake.calls(CALLBACK_IP)).toBe(2);
  expect(await forceRefreshCalls(h)).toBe(forceRefreshes);
  expect(passiveRefreshesOf(h, held.fingerprint)).toBe(1);
  expect(h.fake.calls("/cgi-bin/token", APP)).toBe(forceRefreshes);
}

export interface RecipeSuite {
  /** Why the toolchain cannot run the recipe here, or undefined when it can. */
  missing: string | undefined;
  /** Builds what the runner needs (a compile), once, before the cases. */
  build?: () => Promise<void>;
  /** Runs the recipe's runner against this server, with `env` added to recipeEnv(h). */
  run: (h: Harness, env?: Record<string, string>) => Promise<RecipeRun>;
  /** The runner makes the call from two callers sharing one recipe object when RECIPE_CALLERS=2. */
  concurrentCallers?: boolean;
  /** ForceRefresh calls when WeChat keeps refusing (default 1). */
  failureForceRefreshes?: number;
}

/** The cases every recipe must pass (the concurrent one where the runner has two callers); skipped without the toolchain locally, failed in CI. */
export function describeRecipe(title: string, suite: RecipeSuite): void {
  const { missing } = suite;
  if (missing && !inCI) console.warn(`skipping ${title}: ${missing}`);
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.stop();
    h = undefined;
  });
  describe.skipIf(missing !== undefined && !inCI)(title, () => {
    beforeAll(async () => {
      if (!missing) await suite.build?.();
    }, 150_000);

    it("recovers from a refused token 55 s from expiry with one ForceRefresh of that token and one retry", { timeout: 45_000 }, async () => {
      if (missing) throw new Error(`CI must run ${title}: ${missing}`);
      h = await startForRecipes();
      await expectRecovery(h, () => suite.run(h!));
    });

    // Only where the runner has two callers: a case registered and skipped would read as run.
    if (suite.concurrentCallers) it("reports the refused token, not the one another caller's report replaced it with", { timeout: 45_000 }, async () => {
      if (missing) throw new Error(`CI must run ${title}: ${missing}`);
      h = await startForRecipes();
      await expectRecoveryAfterRotation(h, () => suite.run(h!, { RECIPE_CALLERS: "2" }));
    });

    it("fails with WeChat's 40001 after one retry when WeChat keeps refusing, instead of looping", { timeout: 45_000 }, async () => {
      if (missing) throw new Error(`CI must run ${title}: ${missing}`);
      h = await startForRecipes();
      await expectBoundedFailure(h, () => suite.run(h!), suite.failureForceRefreshes);
    });
  });
}

/** Why `command` cannot run (probed with `args`), or undefined when it can. */
export async function probe(command: string, args: string[], hint: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: 30_000 }, (err) => resolve(err ? `${command} ${args.join(" ")} failed (${hint}): ${err.message.split("\n")[0]}` : undefined));
  });
}

/**
 * examples/wechatpy/wxtoken_client.py, run in its own process against a real
 * wxtoken over gRPC, plugged into a stand-in of wechatpy 1.8.18's client
 * (test/recipes/wechatpy/wechatpy/: the access_token property and the
 * unbounded 40001 retry of wechatpy/client/base.py, since PyPI is not
 * reachable here). With 120-second tokens the recipe once recursed until
 * RecursionError; now it reports the refused token once and retries once.
 * Needs Debian's python3-grpcio, python3-grpc-tools and python3-requests:
 * skipped locally without them, a failure in CI.
 */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterEach, describe, it } from "vitest";
import type { Harness } from "./support/harness.js";
import { PYTHON } from "./support/python.js";
import { expectBoundedFailure, expectRecovery, inCI, recipeEnv, runRecipe, startForRecipes } from "./support/recipes.js";

const RUNNER = fileURLToPath(new URL("./recipes/wechatpy/run.py", import.meta.url));

async function missingPython(): Promise<string | undefined> {
  try {
    await promisify(execFile)(PYTHON, ["-c", "import grpc, grpc_tools, requests"], { timeout: 30_000 });
    return undefined;
  } catch (err) {
    return `${PYTHON} cannot import grpc, grpc_tools and requests (apt-get install -y python3-grpcio python3-grpc-tools python3-requests): ${(err as Error).message.split("\n")[0]}`;
  }
}

const missing = await missingPython();
if (missing && !inCI) console.warn(`skipping the wechatpy recipe test: ${missing}`);

let h: Harness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

const run = (h: Harness) => () => runRecipe(PYTHON, [RUNNER], { ...recipeEnv(h), PYTHONDONTWRITEBYTECODE: "1" });

describe.skipIf(missing !== undefined && !inCI)("the wechatpy recipe", () => {
  it("recovers from a refused token 55 s from expiry with one ForceRefresh of that token and one retry", { timeout: 45_000 }, async () => {
    if (missing) throw new Error(`CI must run the wechatpy recipe: ${missing}`);
    h = await startForRecipes();
    await expectRecovery(h, run(h));
  });

  it("fails with WeChat's 40001 after one retry when WeChat keeps refusing, instead of recursing", { timeout: 45_000 }, async () => {
    if (missing) throw new Error(`CI must run the wechatpy recipe: ${missing}`);
    h = await startForRecipes();
    await expectBoundedFailure(h, run(h));
  });
});

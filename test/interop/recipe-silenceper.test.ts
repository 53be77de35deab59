/**
 * examples/silenceper-wechat/wxtoken_handle.go, built in GOPATH mode against a
 * stand-in of silenceper/wechat v2.1.6 (test/recipes/silenceper/standin/: the
 * handle interfaces, OfficialAccount, Basic.GetCallbackIP and util's
 * CommonError; the Go module proxy is not reachable here), Go stubs generated
 * from proto/ and Debian's grpc-go, run in its own process against a real
 * wxtoken over gRPC. The build's first run compiles grpc-go (tens of seconds;
 * the cache is shared with test/interop/go-client.test.ts).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll } from "vitest";
import { GOCACHE, goToolchainMissing } from "../support/go.js";
import { describeRecipe, recipeEnv, runRecipe } from "../support/recipes.js";

const BUILD = fileURLToPath(new URL("../recipes/silenceper/build.sh", import.meta.url));
const work = mkdtempSync(join(tmpdir(), "wxtoken-silenceper-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describeRecipe("the silenceper/wechat recipe", {
  missing: await goToolchainMissing(),
  build: async () => {
    const built = await runRecipe("bash", [BUILD, work], { GOCACHE }, 140_000);
    if (built.code !== 0) throw new Error(`test/recipes/silenceper/build.sh failed (exit ${built.code}):\n${built.stdout}${built.stderr}`);
  },
  run: (h, env) => runRecipe(join(work, "bin/silenceper-recipe"), [], { ...recipeEnv(h), ...env }),
  concurrentCallers: true,
});

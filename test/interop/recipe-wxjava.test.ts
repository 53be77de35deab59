/**
 * examples/wxjava/WxTokenMpConfigStorage.java, compiled against a stand-in of
 * WxJava 4.7.0 (test/recipes/wxjava/standin/: WxMpDefaultConfigImpl and
 * BaseWxMpServiceImpl.executeInternal with its one automatic retry; Maven
 * Central is not reachable here) and Debian's Gson, run in its own process
 * against a real wxtoken over the HTTP/JSON API. Needs a JDK (javac, java)
 * and libgoogle-gson-java.
 *
 * When WeChat keeps refusing, WxJava calls expireAccessToken() after the
 * retry's refusal too (the storage still holds that token), so the recipe
 * reports the second token as well: two ForceRefresh calls, still bounded.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll } from "vitest";
import { describeRecipe, probe, recipeEnv, runRecipe } from "../support/recipes.js";

const BUILD = fileURLToPath(new URL("../recipes/wxjava/build.sh", import.meta.url));
const GSON = "/usr/share/java/gson.jar";
const HINT = "apt-get install -y default-jdk-headless libgoogle-gson-java";

const missing = (await probe("javac", ["-version"], HINT)) ?? (existsSync(GSON) ? undefined : `${GSON} is missing (${HINT})`);
const out = mkdtempSync(join(tmpdir(), "wxtoken-wxjava-"));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describeRecipe("the WxJava recipe", {
  missing,
  build: async () => {
    const built = await runRecipe("bash", [BUILD, out], {}, 120_000);
    if (built.code !== 0) throw new Error(`test/recipes/wxjava/build.sh failed (exit ${built.code}):\n${built.stdout}${built.stderr}`);
  },
  run: (h) => runRecipe("java", ["-cp", `${out}:${GSON}`, "RunWxJava"], recipeEnv(h)),
  failureForceRefreshes: 2,
});

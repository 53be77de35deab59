/**
 * The HTTP/JSON API from PHP (Debian's php-cli with php-curl, no Composer):
 * test/php/client.php gets a token, refreshes it with the stale one and reads
 * two events of the event stream. Skipped locally without PHP, but CI installs
 * it (.ci/run) and fails when it is missing.
 */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { APP, Harness } from "../support/harness.js";

const run = promisify(execFile);
const SCRIPT = fileURLToPath(new URL("../php/client.php", import.meta.url));

async function phpMissing(): Promise<string | undefined> {
  try {
    await run("php", ["-r", 'exit(function_exists("curl_init") ? 0 : 1);'], { timeout: 10_000 });
    return undefined;
  } catch (err) {
    return `php with curl is not installed (apt-get install -y php-cli php-curl): ${(err as Error).message.split("\n")[0]}`;
  }
}

const missing = await phpMissing();
const inCI = Boolean(process.env.CI) && !/^(0|false)$/i.test(process.env.CI ?? "");
if (missing && !inCI) console.warn(`skipping the PHP client test: ${missing}`);

let h: Harness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

describe.skipIf(missing !== undefined && !inCI)("a PHP client of the HTTP API", () => {
  it("gets a token, passive-refreshes with the stale one, and reads two events of the stream", { timeout: 60_000 }, async () => {
    if (missing) throw new Error(`CI must run the PHP client test: ${missing}`);
    h = await Harness.start({ config: { http: { listen: "127.0.0.1:0" } } });
    const result = await run("php", [SCRIPT], {
      env: { ...process.env, WXTOKEN_HTTP: `http://127.0.0.1:${h.server.httpPort}`, WXTOKEN_APP_ID: APP },
      timeout: 50_000,
    }).catch((err: Error & { stdout?: string; stderr?: string; code?: number }) => {
      throw new Error(`client.php failed (exit ${err.code}):\n${err.stdout ?? ""}${err.stderr ?? ""}`);
    });
    expect(result.stdout).toMatch(/PHP client: all passed/);
    expect(result.stdout.match(/^ok: /gm)).toHaveLength(9);
  });
});

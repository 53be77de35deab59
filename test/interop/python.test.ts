/**
 * The contract from another language: test/python/client_test.py (grpcio,
 * stubs generated from proto/ at run time) against the real server and the
 * fake WeChat. Debian's grpcio lives under /usr/bin/python3, not the python3
 * first on PATH. Without it the test is skipped locally, but fails in CI.
 */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { APP, Harness } from "../support/harness.js";
import { inCI, PYTHON, pythonGrpcMissing } from "../support/python.js";

const run = promisify(execFile);
const CLIENT_TEST = fileURLToPath(new URL("../python/client_test.py", import.meta.url));
const CORP = "ww0123456789abcdef";
const AGENT = "1000002";
const missing = await pythonGrpcMissing();
if (missing && !inCI) console.warn(`skipping the Python client test: ${missing}`);

let h: Harness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

describe.skipIf(missing !== undefined && !inCI)("a Python grpcio client", () => {
  it("gets, force-refreshes and watches tokens, gets a jsapi ticket and a WeCom agent token, and checks a SignJsSdk signature", { timeout: 90_000 }, async () => {
    if (missing) throw new Error(`CI must run the Python client test: ${missing}`);
    h = await Harness.start({
      fakeOptions: { wecom: { [CORP]: { [AGENT]: "agent-secret" } } },
      env: { AGENT_SECRET: "agent-secret" },
      apps: [
        { appId: APP, secretEnv: `SECRET_${APP}`, tickets: ["jsapi"] },
        { type: "wecom", corpId: CORP, agent: AGENT, secretEnv: "AGENT_SECRET" },
      ],
    });
    // Async, not execFileSync: the server answering the child runs in this process.
    const result = await run(PYTHON, [CLIENT_TEST], {
      env: { ...process.env, WXTOKEN_ADDR: `127.0.0.1:${h.port}`, WXTOKEN_APP_ID: APP, WXTOKEN_CORP_ID: CORP, WXTOKEN_AGENT: AGENT, PYTHONDONTWRITEBYTECODE: "1" },
      timeout: 80_000,
    }).catch((err: Error & { stdout?: string; stderr?: string; code?: number }) => {
      throw new Error(`client_test.py failed (exit ${err.code}):\n${err.stdout ?? ""}${err.stderr ?? ""}`);
    });
    // unittest reports on stderr; a run that skipped everything must not pass.
    expect(result.stderr).toMatch(/^OK$/m);
    expect(result.stderr).not.toMatch(/skipped/);
    expect(result.stderr).toMatch(/Ran 7 tests/);
  });
});

/**
 * The Open Platform end to end over real HTTP and gRPC, with a Python client:
 * the fake WeChat pushes an encrypted component_verify_ticket to the server's
 * push receiver, the server gets the component token, two accounts
 * authorize (pushed events, codes exchanged), and test/python/platform_test.py
 * (grpcio, stubs generated from proto/) lists the platform, reads an
 * authorizer's token and watches it rotate. Skipped locally without Debian's
 * python3-grpcio; CI must run it.
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { eventually } from "../support/harness.js";
import { AUTH1, AUTH2, COMPONENT, PlatformHarness } from "../support/platform.js";
import { inCI, PYTHON, pythonGrpcMissing } from "../support/python.js";

const SCRIPT = fileURLToPath(new URL("../python/platform_test.py", import.meta.url));

const missing = await pythonGrpcMissing();
if (missing && !inCI) console.warn(`skipping the Python Open Platform test: ${missing}`);

let p: PlatformHarness | undefined;
afterEach(async () => {
  await p?.stop();
  p = undefined;
});

describe.skipIf(missing !== undefined && !inCI)("a Python client of an Open Platform", () => {
  it("push -> component token -> two authorizers; Python reads an authorizer token and watches it rotate", { timeout: 90_000 }, async () => {
    if (missing) throw new Error(`CI must run the Python Open Platform test: ${missing}`);
    p = await PlatformHarness.start();
    const platform = p;
    // WeChat's side, over real HTTP: the ticket push, then two authorizations.
    expect(await platform.fake.component.pushTicket()).toMatchObject({ status: 200, body: "success" });
    await eventually(async () => {
      await platform.clock.advance(0);
      await platform.h.getToken(COMPONENT, 300);
    });
    for (const a of [AUTH1, AUTH2]) expect(await platform.fake.component.authorize(a)).toMatchObject({ status: 200, body: "success" });

    const child = spawn(PYTHON, [SCRIPT], {
      env: { ...process.env, WXTOKEN_ADDR: `127.0.0.1:${platform.h.port}`, WXTOKEN_COMPONENT: COMPONENT, WXTOKEN_AUTHORIZERS: `${AUTH1},${AUTH2}`, PYTHONDONTWRITEBYTECODE: "1" },
    });
    let stdout = "";
    let stderr = "";
    let rotated = false;
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
      if (!rotated && /WATCHING \d+/.test(stdout)) {
        rotated = true;
        // The Python watcher holds the current token: move the server's clock to its refresh.
        void platform.h.getToken(AUTH1).then((r) => platform.clock.advanceTo(r.token!.refreshAt!.getTime()));
      }
    });
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    if (code !== 0) throw new Error(`platform_test.py failed (exit ${code}):\n${stdout}${stderr}`);
    // unittest reports on stderr; a run that skipped everything must not pass.
    expect(stderr).toMatch(/^OK$/m);
    expect(stderr).not.toMatch(/skipped/);
    expect(stderr).toMatch(/Ran 3 tests/);
    expect(rotated).toBe(true);
  });
});

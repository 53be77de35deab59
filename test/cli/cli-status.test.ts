/**
 * `wxtoken status` (the built CLI) against a running server: every
 * credential in a table, or in the HTTP API's JSON with --json, read page by
 * page; filters as flags; bad flags are usage errors; never a token.
 */
import { afterEach, describe, expect, it } from "vitest";
import { useCli } from "../support/cli.js";
import { APP, APP2, eventually, Harness } from "../support/harness.js";

const fixture = useCli();
let h: Harness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

async function start(): Promise<Harness> {
  h = await Harness.start({
    apps: [
      { appId: APP, secretEnv: `SECRET_${APP}`, tickets: ["jsapi"] },
      { appId: APP2, secretEnv: `SECRET_${APP2}` },
    ],
    faults: [{ appId: APP2, errcode: 40164, times: Infinity }],
  });
  const harness = h;
  await eventually(() => expect(harness.server.engine.index.counts()).toMatchObject({ ok: 2, down: 1 }));
  return harness;
}

describe("wxtoken status", () => {
  it("prints every credential as a table, and as the HTTP API's JSON with --json; never a token", async () => {
    const harness = await start();
    const addr = ["--addr", `127.0.0.1:${harness.port}`];
    const token = (await harness.getToken(APP)).token!;

    const plain = await fixture.cli.run(["status", ...addr], { timeoutMs: 15_000 });
    expect([plain.code, plain.stderr]).toEqual([0, ""]);
    const lines = plain.stdout.trim().split("\n");
    expect(lines[0]).toBe("3 credentials: 2 ok, 0 failing, 1 down, 0 idle");
    expect(lines[2]).toMatch(/^APP\s+AGENT\s+KIND\s+STATE\s+VERSION\s+FINGERPRINT/);
    expect(lines.slice(3).map((l) => l.split(/\s+/).slice(0, 3))).toEqual([
      [APP, "access_token", "ok"],
      [APP, "jsapi_ticket", "ok"],
      [APP2, "access_token", "down"],
    ]);
    expect(lines[3]).toContain(token.fingerprint);
    // The reason and WeChat's errcode, what the on-call person looks up.
    expect(lines[5]).toContain("WECHAT_ERROR 40164");

    const json = await fixture.cli.run(["status", ...addr, "--json", "--state", "ok", "--kind", "jsapi"], { timeoutMs: 15_000 });
    expect(json.code).toBe(0);
    const out = JSON.parse(json.stdout) as { credentials: Record<string, unknown>[]; counts: Record<string, number> };
    expect(out.credentials).toHaveLength(1);
    expect(out.credentials[0]).toMatchObject({ appId: APP, kind: "CREDENTIAL_KIND_JSAPI_TICKET", state: "CREDENTIAL_STATE_OK", version: "1" });
    expect(out.counts).toEqual({ total: 3, ok: 2, failing: 0, down: 1, idle: 0 });
    for (const text of [plain.stdout, json.stdout]) expect(text).not.toContain(token.accessToken);

    const searched = await fixture.cli.run(["status", ...addr, "--search", APP2.slice(0, 8) + "2222", "--json"], { timeoutMs: 15_000 });
    expect((JSON.parse(searched.stdout) as { credentials: { appId: string }[] }).credentials.map((c) => c.appId)).toEqual([APP2]);

    // --state in every spelling, as --kind.
    for (const state of ["down", "CREDENTIAL_STATE_DOWN", "3"]) {
      const down = await fixture.cli.run(["status", ...addr, "--json", "--state", state], { timeoutMs: 15_000 });
      const listed = (JSON.parse(down.stdout) as { credentials: { appId: string; lastErrorReason: string; lastErrorCode: number }[] }).credentials;
      expect([state, down.code, listed.map((c) => [c.appId, c.lastErrorReason, c.lastErrorCode])]).toEqual([state, 0, [[APP2, "WECHAT_ERROR", 40164]]]);
    }

    const bad = await fixture.cli.run(["status", ...addr, "--state", "broken"], { timeoutMs: 15_000 });
    expect([bad.code, bad.stderr]).toEqual([
      2,
      expect.stringContaining('--state must be one of ok (CREDENTIAL_STATE_OK, 1), failing (CREDENTIAL_STATE_FAILING, 2), down (CREDENTIAL_STATE_DOWN, 3), idle (CREDENTIAL_STATE_IDLE, 4), got "broken"'),
    ]);
  });
});

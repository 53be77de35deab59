/**
 * The CLI's --platform (get, refresh, watch, sign: a corp's credential
 * through a WeCom suite) and `wxtoken authorize` (an auth_code from a
 * redirect_uri), as a user runs them: the built CLI in its own process
 * against the real server with the fake WeChat over real HTTP.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { eventually, tempDir } from "../support/harness.js";
import { useCli } from "../support/cli.js";
import { AUTH1, AUTH2, COMPONENT, PlatformHarness } from "../support/platform.js";
import { CORP1, SUITE, SuiteHarness } from "../support/suite-platform.js";

const fixture = useCli();
let running: { stop(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(running.map((r) => r.stop()));
  running = [];
});

async function platform(): Promise<PlatformHarness> {
  const p = await PlatformHarness.start();
  running.push(p);
  await p.fake.component.pushTicket();
  await eventually(async () => {
    await p.clock.advance(0);
    await p.h.getToken(COMPONENT, 300);
  });
  return p;
}

describe("wxtoken authorize", () => {
  it("exchanges a redirect code (on the command line or from stdin) and prints the tenant as the HTTP API answers", async () => {
    const p = await platform();
    const addr = `127.0.0.1:${p.h.port}`;
    const code = p.fake.component.state.authorize(AUTH1).code;
    const done = await fixture.cli.run(["authorize", "--platform", COMPONENT, "--code", code, "--addr", addr], { timeoutMs: 15_000 });
    expect(done.code, done.stderr).toBe(0);
    expect(JSON.parse(done.stdout)).toEqual({ platformId: COMPONENT, appId: AUTH1, authorizedAt: new Date(p.clock.now()).toISOString() });
    expect(p.fake.component.isAuthorizerTokenValid(AUTH1, (await p.h.getToken(AUTH1)).token!.accessToken)).toBe(true);

    // The same code again (a retry): the same account, WeChat not asked again.
    const again = await fixture.cli.run(["authorize", "--platform", COMPONENT, "--code", code, "--addr", addr], { timeoutMs: 15_000 });
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toEqual(JSON.parse(done.stdout));
    // A code WeChat refuses (never issued, or used elsewhere): its 61009, a failure naming the errcode, never the code.
    const refused = await fixture.cli.run(["authorize", "--platform", COMPONENT, "--code", `${code}x`, "--addr", addr, "--json"], { timeoutMs: 15_000 });
    expect(refused.code).toBe(1);
    expect(JSON.parse(refused.stderr)).toMatchObject({ code: "FAILED_PRECONDITION", metadata: { errcode: "61009" } });
    expect(refused.stderr).not.toContain(code);
    // A code may start with "-" (WeChat's codes are base64url): still the code, not a flag.
    const dashed = await fixture.cli.run(["authorize", "--platform", COMPONENT, "--code", `-${code}`, "--addr", addr, "--json"], { timeoutMs: 15_000 });
    expect(dashed.code, dashed.stderr).toBe(1);
    expect(JSON.parse(dashed.stderr)).toMatchObject({ code: "FAILED_PRECONDITION", metadata: { errcode: "61009" } });
    expect(dashed.stderr).not.toContain(code);

    // From stdin: out of ps and the shell history.
    const file = join(tempDir(), "code");
    writeFileSync(file, `${p.fake.component.state.authorize(AUTH2).code}\n`);
    const piped = fixture.cli.spawnShell(`'${process.execPath}' '${fixture.cli.path}' authorize --platform ${COMPONENT} --code - --addr ${addr} < '${file}'`);
    expect(await piped.exited, piped.stderr()).toBe(0);
    expect(JSON.parse(piped.stdout())).toMatchObject({ platformId: COMPONENT, appId: AUTH2 });
  });

  it("an unknown platform exits 77 (NOT_FOUND); a missing --platform or --code is a usage error", async () => {
    const p = await platform();
    const addr = `127.0.0.1:${p.h.port}`;
    const unknown = await fixture.cli.run(["authorize", "--platform", "wxnosuchplatform", "--code", "queryauthcode@@@x", "--addr", addr], { timeoutMs: 15_000 });
    expect(unknown.code).toBe(77);
    expect(unknown.stderr).toMatch(/NOT_FOUND/);
    for (const args of [["--code", "queryauthcode@@@x"], ["--platform", COMPONENT]]) {
      const bad = await fixture.cli.run(["authorize", ...args, "--addr", addr]);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(/authorize needs --(platform|code)/);
    }
    // --code followed by one of the command's flags is a missing code, not a code "--addr".
    const missing = await fixture.cli.run(["authorize", "--platform", COMPONENT, "--code", "--addr", addr]);
    expect(missing.code).toBe(2);
    expect(p.calls("api_query_auth")).toBe(0);
  });
});

describe("--platform", () => {
  it("get, refresh, sign and watch name a corp's credential through a suite", async () => {
    const s = await SuiteHarness.start();
    running.push(s);
    await s.suite().pushTicket();
    await s.suite().install(CORP1);
    await eventually(async () => expect((await s.h.get({ appId: CORP1, platformId: SUITE }, 300)).token).toBeDefined());
    const held = (await s.h.get({ appId: CORP1, platformId: SUITE })).token!;
    const addr = `127.0.0.1:${s.h.port}`;

    const got = await fixture.cli.run(["get", CORP1, "--platform", SUITE, "--addr", addr], { timeoutMs: 15_000 });
    expect(got.code, got.stderr).toBe(0);
    expect(JSON.parse(got.stdout)).toMatchObject({ token: { appId: CORP1, platformId: SUITE, accessToken: held.accessToken } });
    const ticket = await fixture.cli.run(["get", CORP1, "--platform", SUITE, "--kind", "jsapi", "--addr", addr], { timeoutMs: 15_000 });
    expect(JSON.parse(ticket.stdout)).toMatchObject({ token: { appId: CORP1, platformId: SUITE, kind: "CREDENTIAL_KIND_JSAPI_TICKET" } });

    // A WeCom token can start with "-": --stale takes it as the value.
    const refreshed = await fixture.cli.run(["refresh", CORP1, "--platform", SUITE, "--stale", "-replaced-long-ago", "--addr", addr], { timeoutMs: 15_000 });
    expect(refreshed.code, refreshed.stderr).toBe(0);
    expect(JSON.parse(refreshed.stdout)).toMatchObject({ token: { platformId: SUITE, accessToken: held.accessToken } });

    const signed = await fixture.cli.run(["sign", CORP1, "https://h5.example.com/page", "--platform", SUITE, "--addr", addr], { timeoutMs: 15_000 });
    expect(signed.code, signed.stderr).toBe(0);
    expect(JSON.parse(signed.stdout)).toMatchObject({ appId: CORP1, platformId: SUITE });

    const watch = fixture.cli.start(["watch", CORP1, "--platform", SUITE, "--addr", addr]);
    await eventually(() => expect(watch.stdout()).toContain("\n"), 10_000);
    expect(JSON.parse(watch.stdout().split("\n")[0]!)).toMatchObject({ token: { appId: CORP1, platformId: SUITE, version: String(held.version) } });

    const wrong = await fixture.cli.run(["get", CORP1, "--platform", "wwnosuchsuite0001", "--addr", addr, "--json"], { timeoutMs: 15_000 });
    expect(wrong.code).toBe(77);
    expect(JSON.parse(wrong.stderr)).toMatchObject({ code: "NOT_FOUND", reason: "UNKNOWN_PLATFORM" });
  });
});

/**
 * The built CLI against a real server holding a WeCom suite (the fake
 * pushing over real HTTP): `wxtoken authorize` hands over a redirect's auth
 * code, `wxtoken platform SUITE` lists the installed corps, `get`, `sign` and
 * `watch` take `--platform SUITE` for a corp's credentials through the suite,
 * and `wxtoken status` shows which platform each credential belongs to.
 * Never a token, permanent code or secret in their output.
 */
import { createHash } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { printed, useCli } from "../support/cli.js";
import { eventually } from "../support/harness.js";
import { CORP1, CORP2, PROVIDER, PROVIDER_SECRET, SUITE, SUITE_SECRET, SuiteHarness } from "../support/suite-platform.js";

const fixture = useCli();
let running: SuiteHarness | undefined;
afterEach(async () => {
  await running?.stop();
  running = undefined;
});

type TokenJson = { token: { appId: string; platformId?: string; accessToken: string; version: string; fingerprint: string } };

/** A suite with CORP1 installed from WeCom (create_auth pushed), and the CLI's --addr. */
async function installed(): Promise<{ s: SuiteHarness; addr: string[] }> {
  const s = (running = await SuiteHarness.start());
  await s.suite().pushTicket();
  expect((await s.suite().install(CORP1)).body).toBe("success");
  await eventually(() => expect(s.h.server.platforms.get(SUITE)!.holds(CORP1)).toBe(true));
  return { s, addr: ["--addr", `127.0.0.1:${s.h.port}`] };
}

/** Whether the fake takes `token` as CORP's token for the suite's app in it. */
function isCorpToken(s: SuiteHarness, corpId: string, token: string): boolean {
  return s.fake.isWeComTokenValid(corpId, String(s.suite().corp(corpId)!.agentId), token);
}

async function cli(args: string[]): Promise<string> {
  const r = await fixture.cli.run(args, { timeoutMs: 15_000 });
  expect([r.code, r.stderr], args.join(" ")).toEqual([0, ""]);
  return r.stdout;
}

describe("the CLI with a WeCom suite", () => {
  it("authorize hands over a redirect's code; platform lists both corps; get and sign take --platform", async () => {
    const { s, addr } = await installed();

    // The second corp installs on the provider's site: its code reaches the server through `wxtoken authorize`.
    const { authCode } = s.suite().installByRedirect(CORP2);
    const authorized = JSON.parse(await cli(["authorize", "--platform", SUITE, "--code", authCode, ...addr])) as Record<string, string>;
    expect(authorized).toMatchObject({ platformId: SUITE, appId: CORP2 });
    expect(s.h.server.platforms.get(SUITE)!.holds(CORP2)).toBe(true);

    const platform = JSON.parse(await cli(["platform", SUITE, ...addr])) as { componentAppId: string; authorizers: { appId: string; status: string }[] };
    expect(platform.authorizers.map((a) => [a.appId, a.status])).toEqual([
      [CORP1, "AUTHORIZER_STATUS_ACTIVE"],
      [CORP2, "AUTHORIZER_STATUS_ACTIVE"],
    ]);

    for (const corp of [CORP1, CORP2]) {
      const got = JSON.parse(await cli(["get", corp, "--platform", SUITE, ...addr])) as TokenJson;
      expect(got.token).toMatchObject({ appId: corp, platformId: SUITE });
      expect(isCorpToken(s, corp, got.token.accessToken)).toBe(true);
    }

    // wx.agentConfig for CORP1's page: the agentid from its auth info, signed with the corp's agent_config ticket through the suite.
    const url = "https://h5.example.com/app?x=1";
    const signed = JSON.parse(await cli(["sign", CORP1, url, "--kind", "agent_config", "--platform", SUITE, ...addr])) as Record<string, string>;
    expect(signed).toMatchObject({ appId: CORP1, platformId: SUITE, agent: String(s.suite().corp(CORP1)!.agentId) });
    const ticket = (await s.h.get({ appId: CORP1, platformId: SUITE, kind: 4 })).token!.accessToken;
    const expected = createHash("sha1").update(`jsapi_ticket=${ticket}&noncestr=${signed["nonceStr"]}&timestamp=${signed["timestamp"]}&url=${url}`).digest("hex");
    expect(signed["signature"]).toBe(expected);

    // A corp that never installed is not found, with the platform named.
    const missing = await fixture.cli.run(["get", "wwnotinstalled0001", "--platform", SUITE, ...addr], { timeoutMs: 15_000 });
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/NOT_FOUND|not found|unknown/i);
  });

  it("status shows each corp's credentials under the suite (a PLATFORM column) and in --json; never a token", async () => {
    const { s, addr } = await installed();
    const corpToken = (await s.h.get({ appId: CORP1, platformId: SUITE })).token!;
    const suiteToken = (await s.h.get({ appId: SUITE })).token!;
    for (const kind of [2, 4]) await s.h.get({ appId: CORP1, platformId: SUITE, kind });

    const table = (await cli(["status", ...addr])).trim().split("\n");
    expect(table[2]).toMatch(/^APP\s+PLATFORM\s+AGENT\s+KIND\s+STATE/);
    const rows = table.slice(3).map((l) => l.split(/\s+/));
    // The corp's token and both tickets, each under the suite.
    expect(rows.filter((r) => r[0] === CORP1).map((r) => r.slice(0, 3).join(" ")).sort()).toEqual([
      `${CORP1} ${SUITE} access_token`,
      `${CORP1} ${SUITE} agent_config_ticket`,
      `${CORP1} ${SUITE} jsapi_ticket`,
    ]);
    expect(table.find((l) => l.startsWith(CORP1))).toContain(corpToken.fingerprint);

    const json = JSON.parse(await cli(["status", "--json", "--app", CORP1, ...addr])) as { credentials: { appId: string; platform: string; kind: string }[] };
    expect(json.credentials.map((c) => `${c.appId} ${c.platform} ${c.kind}`).sort()).toEqual([
      `${CORP1} ${SUITE} CREDENTIAL_KIND_ACCESS_TOKEN`,
      `${CORP1} ${SUITE} CREDENTIAL_KIND_AGENT_CONFIG_TICKET`,
      `${CORP1} ${SUITE} CREDENTIAL_KIND_JSAPI_TICKET`,
    ]);
    const all = await cli(["status", "--json", ...addr]);
    const text = table.join("\n") + all;
    for (const secret of [corpToken.accessToken, suiteToken.accessToken, s.suite().permanentCodeOf(CORP1)!, s.suite().currentTicket()!, SUITE_SECRET, PROVIDER_SECRET]) {
      expect(text).not.toContain(secret);
    }
    expect(all).toContain(PROVIDER);
  });

  it("watch --platform prints the corp's token, then the next one when it rotates", async () => {
    const { s, addr } = await installed();
    const watch = fixture.cli.start(["watch", CORP1, "--platform", SUITE, ...addr]);
    const first = JSON.parse(await printed(watch.stdout, /^(\{.*\})$/m)) as TokenJson;
    expect(first.token).toMatchObject({ appId: CORP1, platformId: SUITE });
    expect(isCorpToken(s, CORP1, first.token.accessToken)).toBe(true);

    // WeCom stops taking the token; a caller reports it and the server fetches a new one.
    s.fake.invalidateWeComToken(CORP1, String(s.suite().corp(CORP1)!.agentId));
    expect(isCorpToken(s, CORP1, first.token.accessToken)).toBe(false);
    const refreshed = await s.h.refresh({ appId: CORP1, platformId: SUITE, staleToken: first.token.accessToken });
    expect(refreshed.token!.version).toBeGreaterThan(Number(first.token.version));
    await eventually(() => expect(watch.stdout().trim().split("\n")).toHaveLength(2), 10_000);
    const second = JSON.parse(watch.stdout().trim().split("\n")[1]!) as TokenJson;
    expect(second.token).toMatchObject({ appId: CORP1, platformId: SUITE, version: String(refreshed.token!.version) });
    expect(second.token.accessToken).toBe(refreshed.token!.accessToken);
    expect(isCorpToken(s, CORP1, second.token.accessToken)).toBe(true);
    watch.child.kill("SIGINT");
    expect(await watch.exited).toBe(0);
  });
});

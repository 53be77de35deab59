/**
 * `wxtoken fake-wechat --suite` as its own process: the suite's endpoints on
 * the WeCom host it prints, driven through /_fake/suite/ as a person with curl
 * would: a suite_ticket pushed to the receiver, an install by redirect whose
 * code exchanges for a permanent code, and the printed URL check (验证URL) run
 * against a real wxtoken server's receiver.
 */
import { describe, expect, it } from "vitest";
import { FakeClock } from "../../src/clock.js";
import { printed, useCli } from "../support/cli.js";
import { AES_KEY, CALLBACK_TOKEN, wecomCall } from "../support/fake-suite.js";
import { pushReceiver } from "../support/push-receiver.js";
import { DK, SUITE, SuiteHarness } from "../support/suite-platform.js";

const fixture = useCli();
const SUITE_ID = "wwsuitecli00000001";

describe("wxtoken fake-wechat --suite", () => {
  it("serves the suite on the WeCom host it prints; /_fake/suite/ pushes a ticket and installs a corp", async () => {
    const recv = await pushReceiver({ receiverId: SUITE_ID, token: CALLBACK_TOKEN, encodingAesKey: AES_KEY });
    fixture.defer(() => recv.close());
    const fake = fixture.cli.start([
      "fake-wechat",
      "--port",
      "0",
      "--suite",
      `${SUITE_ID}:cli-suite-secret:${CALLBACK_TOKEN}:${AES_KEY}:${recv.url}`,
      "--provider",
      "wwprovidercli00001:cli-provider-secret",
    ]);
    const url = await printed(fake.stdout, /fake WeChat listening on (http:\/\/\S+)/);
    const wecom = await printed(fake.stdout, /suite: \S+ on WeCom's host (http:\/\/\S+),/);
    const control = (query: string) => fetch(`${url}/_fake/suite/${query}`, { method: "POST" }).then((r) => r.json() as Promise<Record<string, unknown>>);

    expect(await control(`push-ticket?suite=${SUITE_ID}`)).toMatchObject({ ok: true, receiverStatus: 200 });
    const ticket = recv.pushes[0]!.fields["SuiteTicket"];
    const token = await wecomCall(wecom, "/cgi-bin/service/get_suite_token", { suite_id: SUITE_ID, suite_secret: "cli-suite-secret", suite_ticket: ticket });
    expect(token).toMatchObject({ errcode: 0, expires_in: 7200 });
    const { authCode } = await control(`install?suite=${SUITE_ID}&corpid=wwcorpcli&via=redirect`);
    const installed = await wecomCall(wecom, `/cgi-bin/service/get_permanent_code?suite_access_token=${token["suite_access_token"] as string}`, { auth_code: authCode });
    expect(installed).toMatchObject({ errcode: 0, permanent_code: expect.any(String), auth_corp_info: { corpid: "wwcorpcli" } });
    // The provider's own token, with the provider_secret given on the command line.
    expect(await wecomCall(wecom, "/cgi-bin/service/get_provider_token", { corpid: "wwprovidercli00001", provider_secret: "cli-provider-secret" })).toMatchObject({ errcode: 0 });
    expect(await wecomCall(wecom, "/cgi-bin/service/get_provider_token", { corpid: "wwprovidercli00001", provider_secret: "wrong" })).toMatchObject({ errcode: 40001 });
    expect(fake.stdout()).toContain("provider: wwprovidercli00001");
    expect(fake.stdout()).not.toContain("cli-suite-secret");
    expect(fake.stdout()).not.toContain("cli-provider-secret");

    const bad = fixture.cli.run(["fake-wechat", "--port", "0", "--suite", `${SUITE_ID}:secret:token:short-key`]);
    expect((await bad).stderr).toMatch(/--suite takes SUITEID:SECRET:TOKEN:AESKEY\[:PUSHURL\]/);
    const badProvider = fixture.cli.run(["fake-wechat", "--port", "0", "--suite", `${SUITE_ID}:s:t:${AES_KEY}`, "--provider", "wwnosecret"]);
    expect((await badProvider).stderr).toMatch(/--provider takes CORPID:SECRET/);
    fake.child.kill("SIGTERM");
    expect(await fake.exited).toBe(0);
  });

  it("prints the curl line of the console's URL check; run, it reports ok against wxtoken's receiver with the same Token and key, and why not with another", async () => {
    // A real server whose receiver the separate fake's GET reaches: its clock is now, as the fake process's is.
    const s = await SuiteHarness.start({ clock: new FakeClock(Date.now()) });
    fixture.defer(() => s.stop());
    const fake = fixture.cli.start([
      "fake-wechat",
      "--port",
      "0",
      "--suite",
      `${SUITE}:cli-suite-secret:${CALLBACK_TOKEN}:${AES_KEY}:${s.pushUrl(SUITE)}`,
      // The server holds CALLBACK_TOKEN for DK too: this console was given another Token.
      "--suite",
      `${DK}:cli-dk-secret:another-token:${AES_KEY}:${s.pushUrl(DK)}`,
    ]);
    const line = (suiteId: string) => printed(fake.stdout, new RegExp(`^\\s*(curl -X POST "http://\\S+/_fake/suite/verify-url\\?suite=${suiteId}")`, "m"));
    const run = async (curl: string) => {
      const ran = fixture.cli.spawnShell(curl.replace(/^curl /, "curl -s "));
      expect(await ran.exited).toBe(0);
      return JSON.parse(ran.stdout()) as Record<string, unknown>;
    };

    expect(await run(await line(SUITE))).toMatchObject({ ok: true, status: 200 });
    const refused = await run(await line(DK));
    expect(refused).toMatchObject({ ok: false, status: 403, reason: "the receiver answered HTTP 403: bad signature" });
    expect(fake.stdout()).not.toContain(CALLBACK_TOKEN);
    expect(fake.stdout()).not.toContain(AES_KEY);
    fake.child.kill("SIGTERM");
    expect(await fake.exited).toBe(0);
  });
});

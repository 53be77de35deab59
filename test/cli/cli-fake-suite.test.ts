/**
 * `wxtoken fake-wechat --suite` as its own process: the suite's endpoints on
 * the WeCom host it prints, driven through /_fake/suite/ as a person with curl
 * would: a suite_ticket pushed to the receiver, an install by redirect whose
 * code exchanges for a permanent code.
 */
import { describe, expect, it } from "vitest";
import { printed, useCli } from "../support/cli.js";
import { AES_KEY, CALLBACK_TOKEN, wecomCall } from "../support/fake-suite.js";
import { pushReceiver } from "../support/push-receiver.js";

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
});

/**
 * The fake WeCom suite's corps over real HTTP: installs by push and by
 * redirect, permanent codes, corp tokens from get_corp_token and (代开发)
 * from gettoken, their JS-SDK tickets under WeCom's hourly limits, change,
 * cancel and reset, the provider token and the /_fake/suite/ control routes.
 * Expected errcodes are WeCom's, written here independently of the fake.
 */
import { request } from "undici";
import { describe, expect, it } from "vitest";
import { DK, SERVICE as S, SUITE, suitesPerTest, wecomCall } from "../support/fake-suite.js";

const setup = suitesPerTest();

type Json = Record<string, unknown>;
const agentsOf = (body: Json) => ((body["auth_info"] as Json)["agent"] as Json[]).map((a) => ({ agentid: a["agentid"], name: a["name"], is_customized_app: a["is_customized_app"] }));

describe("fake suite installs and corp tokens", () => {
  it("install by push and by redirect: v1 answers the corp token and agents, v2 neither; codes are single-use and live 10 minutes", async () => {
    const { fake, clock, call, suiteToken } = await setup({ suite: { ticketLifetimeMs: 86_400_000 } });
    const suite = fake.suite(SUITE);
    const pushed = await suite.install("wwcorpA", { corpName: "Corp A" });
    const redirected = suite.installByRedirect("wwcorpB");
    const late = suite.installByRedirect("wwcorpC");
    const ST = await suiteToken();

    const v1 = await call(`${S}/get_permanent_code`, { auth_code: pushed.authCode }, ST);
    expect(v1).toMatchObject({ errcode: 0, access_token: expect.any(String), expires_in: 7200, permanent_code: suite.permanentCodeOf("wwcorpA"), auth_corp_info: { corpid: "wwcorpA", corp_name: "Corp A" } });
    const agentA = suite.corp("wwcorpA")!.agentId;
    expect(agentsOf(v1)).toEqual([{ agentid: agentA, name: expect.any(String), is_customized_app: false }]);
    expect(fake.isWeComTokenValid("wwcorpA", String(agentA), v1["access_token"] as string)).toBe(true);

    const v2 = await call(`${S}/v2/get_permanent_code`, { auth_code: redirected.authCode }, ST);
    expect(v2).toMatchObject({ errcode: 0, permanent_code: suite.permanentCodeOf("wwcorpB"), auth_corp_info: { corpid: "wwcorpB" } });
    expect(v2).not.toHaveProperty("access_token");
    expect(v2).not.toHaveProperty("auth_info");
    const info = await call(`${S}/get_auth_info`, { auth_corpid: "wwcorpB", permanent_code: v2["permanent_code"] }, ST);
    expect(agentsOf(info)).toEqual([{ agentid: suite.corp("wwcorpB")!.agentId, name: expect.any(String), is_customized_app: false }]);

    expect((await call(`${S}/v2/get_permanent_code`, { auth_code: redirected.authCode }, ST))["errcode"]).toBe(40078);
    expect((await call(`${S}/get_permanent_code`, { auth_code: "made-up" }, ST))["errcode"]).toBe(40078);
    // Another suite's token cannot exchange this suite's code.
    expect((await call(`${S}/get_permanent_code`, { auth_code: late.authCode }, await suiteToken(DK)))["errcode"]).toBe(40078);
    await clock.advance(600_000);
    expect(await call(`${S}/get_permanent_code`, { auth_code: late.authCode }, ST)).toMatchObject({ errcode: 40078, errmsg: expect.stringMatching(/^invalid auth_code/) });
    await expect(suite.install("wwcorpA")).rejects.toThrow(/already installed/);
  });

  it("get_corp_token: the same token while valid, a new one after expiry; distinct per suite in one corp; 40084 for a code not the corp's", async () => {
    const { fake, clock, call, suiteToken } = await setup({ suite: { corps: { wwcorpA: {}, wwcorpB: {} }, ticketLifetimeMs: 86_400_000 } });
    const suite = fake.suite(SUITE);
    const ST = await suiteToken();
    const body = (corp: string, code = suite.permanentCodeOf(corp)) => ({ auth_corpid: corp, permanent_code: code });
    const t1 = await call(`${S}/get_corp_token`, body("wwcorpA"), ST);
    expect(t1).toEqual({ errcode: 0, errmsg: "ok", access_token: expect.any(String), expires_in: 7200 });
    await clock.advance(3_600_000);
    expect((await call(`${S}/get_corp_token`, body("wwcorpA"), ST))["access_token"]).toBe(t1["access_token"]);
    expect((await call(`${S}/get_corp_token`, body("wwcorpB"), ST))["access_token"]).not.toBe(t1["access_token"]);
    expect((await call(`${S}/get_corp_token`, body("wwcorpA", suite.permanentCodeOf("wwcorpB")), ST))["errcode"]).toBe(40084);
    expect((await call(`${S}/get_corp_token`, body("wwnosuchcorp", "x"), ST))["errcode"]).toBe(40084);

    // Tickets with the corp token, as for a self-built app; it expires after 7200 s and the next fetch is a new token.
    const ticket = await wecomCall(fake.wecomUrl!, `/cgi-bin/get_jsapi_ticket?access_token=${t1["access_token"] as string}`);
    expect(ticket).toMatchObject({ errcode: 0, ticket: fake.currentTicket("wwcorpA", "jsapi") });
    await clock.advance(3_600_000);
    expect((await wecomCall(fake.wecomUrl!, `/cgi-bin/get_jsapi_ticket?access_token=${t1["access_token"] as string}`))["errcode"]).toBe(42001);
    const ST2 = await suiteToken();
    const t2 = await call(`${S}/get_corp_token`, body("wwcorpA"), ST2);
    expect(t2["access_token"]).not.toBe(t1["access_token"]);

    // A corp installing a second suite gets a token of its own (another agent).
    const dk = fake.suite(DK);
    const code = dk.installByRedirect("wwcorpA").authCode;
    const dkInstall = await call(`${S}/get_permanent_code`, { auth_code: code }, await suiteToken(DK));
    expect(dk.corp("wwcorpA")!.agentId).not.toBe(suite.corp("wwcorpA")!.agentId);
    expect(dkInstall["access_token"]).not.toBe(t2["access_token"]);
  });

  it("the corp's tickets under WeCom's hourly limits: 100 an hour per app (here 2), per corp (here 3)", async () => {
    const { fake, clock, call, suiteToken } = await setup({ suite: { corps: { wwcorpA: {} } }, dk: { corps: { wwcorpA: {} } }, fake: { wecomTicketsPerAgentHour: 2, wecomTicketsPerCorpHour: 3 } });
    const ST = await suiteToken();
    const token = (await call(`${S}/get_corp_token`, { auth_corpid: "wwcorpA", permanent_code: fake.suite(SUITE).permanentCodeOf("wwcorpA") }, ST))["access_token"] as string;
    const dkToken = (await wecomCall(fake.wecomUrl!, `/cgi-bin/gettoken?corpid=wwcorpA&corpsecret=${fake.suite(DK).permanentCodeOf("wwcorpA")}`))["access_token"] as string;
    const agentTicket = (t: string) => wecomCall(fake.wecomUrl!, `/cgi-bin/ticket/get?access_token=${t}&type=agent_config`);
    const jsapi = (t: string) => wecomCall(fake.wecomUrl!, `/cgi-bin/get_jsapi_ticket?access_token=${t}`);
    const agentA = fake.suite(SUITE).corp("wwcorpA")!.agentId;
    expect(await agentTicket(token)).toMatchObject({ errcode: 0, ticket: fake.currentTicket(`wwcorpA/${agentA}`, "agent_config") });
    expect((await jsapi(token))["errcode"]).toBe(0);
    expect((await jsapi(token))["errcode"]).toBe(45009);
    expect((await jsapi(dkToken))["errcode"]).toBe(0);
    expect((await jsapi(dkToken))["errcode"]).toBe(45009);
    await clock.advance(3_600_000);
    expect((await jsapi(dkToken))["errcode"]).toBe(0);
  });
});

describe("fake suite: 代开发, change, cancel, reset", () => {
  it("a 代开发 app's permanent code is its gettoken secret; get_corp_token with it answers 40084; reset rotates it at the exchange", async () => {
    const { fake, dkRecv, call, suiteToken } = await setup({ dk: { corps: { wwcorpA: {} }, ticketLifetimeMs: 86_400_000 } });
    const dk = fake.suite(DK);
    const old = dk.permanentCodeOf("wwcorpA")!;
    const gettoken = (secret: string) => wecomCall(fake.wecomUrl!, `/cgi-bin/gettoken?corpid=wwcorpA&corpsecret=${encodeURIComponent(secret)}`);
    const t1 = await gettoken(old);
    expect(t1).toEqual({ errcode: 0, errmsg: "ok", access_token: expect.any(String), expires_in: 7200 });
    expect(fake.successfulWeComTokenCalls(`wwcorpA/${dk.corp("wwcorpA")!.agentId}`)).toBe(1);
    const DKT = await suiteToken(DK);
    expect((await call(`${S}/get_corp_token`, { auth_corpid: "wwcorpA", permanent_code: old }, DKT))["errcode"]).toBe(40084);
    expect((await gettoken("not-the-code"))["errcode"]).toBe(40001);
    expect((await gettoken(old))["access_token"]).toBe(t1["access_token"]);

    // Only the newest code can be exchanged: a second reset supersedes the first's.
    const superseded = await dk.resetPermanentCode("wwcorpA");
    const reset = await dk.resetPermanentCode("wwcorpA");
    expect((await call(`${S}/get_permanent_code`, { auth_code: superseded.authCode }, DKT))["errcode"]).toBe(40078);
    expect(dkRecv.pushes.at(-1)!.fields).toEqual({ SuiteId: DK, AuthCode: reset.authCode, InfoType: "reset_permanent_code", TimeStamp: expect.any(String) });
    // The old code works until the new one is exchanged.
    expect((await gettoken(old))["errcode"]).toBe(0);
    const exchanged = await call(`${S}/get_permanent_code`, { auth_code: reset.authCode }, DKT);
    const fresh = exchanged["permanent_code"] as string;
    expect(fresh).not.toBe(old);
    expect(fresh).toBe(dk.permanentCodeOf("wwcorpA"));
    expect(agentsOf(exchanged)[0]!["is_customized_app"]).toBe(true);
    expect((await gettoken(old))["errcode"]).toBe(40001);
    expect((await gettoken(fresh))["errcode"]).toBe(0);
    await expect(fake.suite(SUITE).resetPermanentCode("wwcorpA")).rejects.toThrow(/not a 代开发 template/);
  });

  it("change_auth shows in get_auth_info; cancel_auth: the permanent code answers 48004 and the corp's tokens stop working", async () => {
    const { fake, recv, dkRecv, call, suiteToken } = await setup({ suite: { corps: { wwcorpA: {} } }, dk: { corps: { wwcorpB: {} } } });
    const suite = fake.suite(SUITE);
    const ST = await suiteToken();
    const code = suite.permanentCodeOf("wwcorpA")!;
    const token = (await call(`${S}/get_corp_token`, { auth_corpid: "wwcorpA", permanent_code: code }, ST))["access_token"] as string;

    await suite.change("wwcorpA", { agentName: "renamed" });
    expect(recv.pushes.at(-1)!.fields).toEqual({ SuiteId: SUITE, InfoType: "change_auth", TimeStamp: expect.any(String), AuthCorpId: "wwcorpA" });
    expect(agentsOf(await call(`${S}/get_auth_info`, { auth_corpid: "wwcorpA", permanent_code: code }, ST))[0]!["name"]).toBe("renamed");

    const r = await suite.cancel("wwcorpA");
    expect(r).toMatchObject({ status: 200, body: "success" });
    expect(recv.pushes.at(-1)!.fields).toEqual({ SuiteId: SUITE, InfoType: "cancel_auth", TimeStamp: expect.any(String), AuthCorpId: "wwcorpA" });
    expect(await call(`${S}/get_corp_token`, { auth_corpid: "wwcorpA", permanent_code: code }, ST)).toMatchObject({ errcode: 48004, errmsg: expect.stringMatching(/^auth relation is invalid/) });
    expect((await call(`${S}/get_auth_info`, { auth_corpid: "wwcorpA", permanent_code: code }, ST))["errcode"]).toBe(48004);
    expect((await wecomCall(fake.wecomUrl!, `/cgi-bin/get_jsapi_ticket?access_token=${token}`))["errcode"]).toBe(40014);
    expect(suite.installedCorps()).toEqual([]);
    await expect(suite.cancel("wwcorpA")).rejects.toThrow(/has not installed/);

    const dk = fake.suite(DK);
    const dkCode = dk.permanentCodeOf("wwcorpB")!;
    await dk.cancel("wwcorpB");
    expect(dkRecv.pushes.at(-1)!.fields["InfoType"]).toBe("cancel_auth");
    expect((await wecomCall(fake.wecomUrl!, `/cgi-bin/gettoken?corpid=wwcorpB&corpsecret=${dkCode}`))["errcode"]).toBe(40001);

    // Installing again gives a new permanent code; the old one stays dead.
    const again = suite.installByRedirect("wwcorpA");
    const fresh = (await call(`${S}/get_permanent_code`, { auth_code: again.authCode }, ST))["permanent_code"];
    expect(fresh).not.toBe(code);
    expect((await call(`${S}/get_corp_token`, { auth_corpid: "wwcorpA", permanent_code: code }, ST))["errcode"]).toBe(40084);
  });
});

describe("fake provider token and control routes", () => {
  it("get_provider_token: the same token while valid; 40013 unknown corpid, 40001 wrong secret", async () => {
    const { call } = await setup({ fake: { wecomProviders: { wwprovider01: "provider-secret-NEVER-LEAK" } } });
    const first = await call(`${S}/get_provider_token`, { corpid: "wwprovider01", provider_secret: "provider-secret-NEVER-LEAK" });
    expect(first).toEqual({ errcode: 0, errmsg: "ok", provider_access_token: expect.any(String), expires_in: 7200 });
    expect((await call(`${S}/get_provider_token`, { corpid: "wwprovider01", provider_secret: "provider-secret-NEVER-LEAK" }))["provider_access_token"]).toBe(first["provider_access_token"]);
    expect((await call(`${S}/get_provider_token`, { corpid: "wwprovider01", provider_secret: "wrong" }))["errcode"]).toBe(40001);
    expect((await call(`${S}/get_provider_token`, { corpid: "wwother", provider_secret: "x" }))["errcode"]).toBe(40013);
  });

  it("/_fake/suite/ drives pushes, installs and errcodes over HTTP, and never answers a permanent code", async () => {
    const { fake, recv, call, suiteToken } = await setup();
    const control = async (method: "GET" | "POST", query: string) => {
      const res = await request(`${fake.url}/_fake/suite/${query}`, { method });
      return { status: res.statusCode, body: (await res.body.json()) as Json };
    };
    expect(await control("POST", `push-ticket?suite=${SUITE}`)).toMatchObject({ status: 200, body: { ok: true, receiverStatus: 200, late: false } });
    expect(recv.pushes[0]!.fields["SuiteTicket"]).toBe(fake.suite(SUITE).currentTicket());
    expect(await control("POST", `install?suite=${SUITE}&corpid=wwcorpA`)).toMatchObject({ status: 200, body: { ok: true } });
    expect(recv.pushes[1]!.fields["InfoType"]).toBe("create_auth");
    const redirect = await control("POST", `install?suite=${SUITE}&corpid=wwcorpB&via=redirect`);
    expect(redirect).toMatchObject({ status: 200, body: { ok: true, authCode: expect.any(String) } });
    const ST = await suiteToken();
    expect((await call(`${S}/get_permanent_code`, { auth_code: redirect.body["authCode"] }, ST))["errcode"]).toBe(0);
    const corps = await control("GET", `corps?suite=${SUITE}`);
    expect(corps.body["corps"]).toEqual([expect.objectContaining({ corpId: "wwcorpA", installed: true }), expect.objectContaining({ corpId: "wwcorpB", installed: true })]);
    expect(JSON.stringify(corps.body)).not.toContain(fake.suite(SUITE).permanentCodeOf("wwcorpA")!);
    expect(await control("POST", `fail?suite=${SUITE}&errcode=40085&times=1`)).toMatchObject({ status: 200 });
    expect((await call(`${S}/get_suite_token`, { suite_id: SUITE, suite_secret: "suite-secret-NEVER-LEAK", suite_ticket: fake.suite(SUITE).currentTicket() }))["errcode"]).toBe(40085);
    expect(await control("POST", `install?suite=${SUITE}&corpid=wwcorpA`)).toMatchObject({ status: 409, body: { error: expect.stringMatching(/already installed/) } });
    expect(await control("POST", `reset?suite=${SUITE}&corpid=wwcorpA`)).toMatchObject({ status: 409 });
    expect(await control("POST", `cancel?suite=${SUITE}`)).toMatchObject({ status: 400 });
    expect(await control("POST", `cancel?suite=wwnosuch&corpid=wwcorpA`)).toMatchObject({ status: 404 });
    expect(await control("POST", `fail?suite=${SUITE}&errcode=45009`)).toMatchObject({ status: 400, body: { error: expect.stringMatching(/give a path/) } });
    expect(await control("POST", `cancel?suite=${DK}&corpid=wwcorpA`)).toMatchObject({ status: 409 });
    expect(await control("POST", `cancel?suite=${SUITE}&corpid=wwcorpA`)).toMatchObject({ status: 200, body: { ok: true } });
  });
});

/**
 * The fake WeCom suite over real HTTP: pushes in WeCom's envelope verified and
 * decrypted by a receiver using src/openplatform, the 30-minute ticket, the
 * suite token, installs by push and by redirect, corp tokens (get_corp_token,
 * and gettoken for a 代开发 app), cancel and reset, errcodes on demand.
 * Expected errcodes are WeCom's, written here independently of the fake.
 */
import { describe, expect, it } from "vitest";
import { parsePushXml } from "../../src/platform/xml.js";
import { DK, SERVICE as S, SUITE, SUITE_SECRET as SECRET, suitesPerTest } from "../support/fake-suite.js";

const setup = suitesPerTest();

describe("fake suite pushes", () => {
  it("pushes a suite_ticket in WeCom's envelope (ToUserName, empty AgentID, no encrypt_type) that the receiver decrypts", async () => {
    const { fake, recv, clock } = await setup();
    const r = await fake.suite(SUITE).pushTicket();
    expect(r).toMatchObject({ status: 200, body: "success", late: false });
    const [push] = recv.pushes;
    expect(push!.fields).toEqual({ SuiteId: SUITE, InfoType: "suite_ticket", TimeStamp: String(clock.now() / 1000), SuiteTicket: fake.suite(SUITE).currentTicket() });
    expect(parsePushXml(push!.body)).toEqual({ ToUserName: SUITE, Encrypt: expect.any(String), AgentID: "" });
    expect([...push!.query.keys()].sort()).toEqual(["from", "msg_signature", "nonce", "timestamp"]);
  });

  it("a receiver expecting another suite refuses the push (the receiver id inside is the suite id)", async () => {
    const { fake, dkRecv } = await setup();
    fake.suite(SUITE).pushUrl = dkRecv.url;
    expect(await fake.suite(SUITE).pushTicket()).toMatchObject({ status: 400, body: "bad push" });
    expect(dkRecv.rejected).toEqual(["wrong_receiver"]);
  });

  it("pushes a ticket every 10 minutes on the injected clock, each suite to its own URL", async () => {
    const { fake, recv, dkRecv, clock } = await setup();
    await clock.advance(599_999);
    expect(recv.pushes).toHaveLength(0);
    const first = [recv.next(), dkRecv.next()];
    await clock.advance(1);
    expect((await first[0])!.fields["SuiteTicket"]).toBe(fake.suite(SUITE).currentTicket());
    expect((await first[1])!.fields["SuiteId"]).toBe(DK);
    const second = recv.next();
    await clock.advance(600_000);
    expect((await second).fields["SuiteTicket"]).toBe(fake.suite(SUITE).currentTicket());
    expect(new Set(recv.pushes.map((p) => p.fields["SuiteTicket"])).size).toBe(2);
    expect(fake.suite(SUITE).pushFailures).toBe(0);
  });

  it("create_auth: a single-use AuthCode; a resend is the very same request; a slow answer is flagged late", async () => {
    const { fake, recv, call, suiteToken } = await setup({ suite: { createAuthAnswerMs: 0 } });
    const install = await fake.suite(SUITE).install("wwcorpA", { state: "from-site" });
    expect(install.fields).toEqual({ SuiteId: SUITE, AuthCode: install.authCode, InfoType: "create_auth", TimeStamp: expect.any(Number), State: "from-site" });
    expect(recv.pushes[0]!.fields["AuthCode"]).toBe(install.authCode);
    // Any answer takes more than 0 ms: flagged (with the default 1000 ms, a loopback answer is not).
    expect(install.late).toBe(true);
    const again = await install.resend();
    expect(again).toMatchObject({ status: 200, body: "success", late: true });
    expect(recv.pushes[1]!.body).toBe(recv.pushes[0]!.body);
    expect(recv.pushes[1]!.query.toString()).toBe(recv.pushes[0]!.query.toString());
    expect(fake.suite(SUITE).lateAnswers).toBe(2);

    const ST = await suiteToken();
    const first = await call(`${S}/get_permanent_code`, { auth_code: install.authCode }, ST);
    expect(first["permanent_code"]).toBe(fake.suite(SUITE).permanentCodeOf("wwcorpA"));
    expect((await call(`${S}/get_permanent_code`, { auth_code: install.authCode }, ST))["errcode"]).toBe(40078);
    const onTime = await fake.suite(DK).install("wwcorpB");
    expect(onTime.late).toBe(false);
  });
});

describe("fake suite tickets and suite tokens", () => {
  it("a ticket works for 30 minutes (older ones too while alive); expired, never pushed or another suite's: 40085", async () => {
    const { fake, clock, call } = await setup({ suite: { pushIntervalMs: 86_400_000 }, dk: { pushIntervalMs: 86_400_000 } });
    const body = (ticket: unknown, id = SUITE, secret = SECRET) => ({ suite_id: id, suite_secret: secret, suite_ticket: ticket });
    await fake.suite(SUITE).pushTicket();
    const old = fake.suite(SUITE).currentTicket()!;
    await clock.advance(600_000);
    await fake.suite(SUITE).pushTicket();
    const newest = fake.suite(SUITE).currentTicket()!;
    await fake.suite(DK).pushTicket();
    expect(await call(`${S}/get_suite_token`, body(old))).toEqual({ errcode: 0, errmsg: "ok", suite_access_token: expect.any(String), expires_in: 7200 });
    expect((await call(`${S}/get_suite_token`, body(fake.suite(DK).currentTicket())))["errcode"]).toBe(40085);
    expect((await call(`${S}/get_suite_token`, body("never-pushed")))["errcode"]).toBe(40085);
    expect((await call(`${S}/get_suite_token`, body(newest, "wwnosuchsuite")))["errcode"]).toBe(40083);
    expect(await call(`${S}/get_suite_token`, body(newest, SUITE, "wrong"))).toMatchObject({ errcode: 40001, errmsg: expect.stringMatching(/^invalid secret, hint: /) });
    await clock.advance(1_200_000 - 1);
    expect((await call(`${S}/get_suite_token`, body(old)))["errcode"]).toBe(0);
    await clock.advance(1);
    expect(await call(`${S}/get_suite_token`, body(old))).toMatchObject({ errcode: 40085, errmsg: expect.stringMatching(/^invalid suite_ticket/) });
    expect((await call(`${S}/get_suite_token`, body(newest)))["errcode"]).toBe(0);
    await clock.advance(600_000);
    expect((await call(`${S}/get_suite_token`, body(newest)))["errcode"]).toBe(40085);
    expect(fake.suite(SUITE).currentTicket()).toBeUndefined();
  });

  it("the same suite token while valid, a new one after 7200 s; 42009 expired, 40082 unknown, 41001 missing", async () => {
    const { fake, clock, call, suiteToken } = await setup({ suite: { ticketLifetimeMs: 86_400_000 } });
    const first = await suiteToken();
    await clock.advance(7_199_999);
    expect(await suiteToken()).toBe(first);
    await clock.advance(1);
    const code = { auth_code: "whatever" };
    expect(await call(`${S}/get_permanent_code`, code, first)).toMatchObject({ errcode: 42009, errmsg: expect.stringMatching(/^suite_token expired/) });
    const second = await suiteToken();
    expect(second).not.toBe(first);
    expect(fake.suite(SUITE).isSuiteTokenValid(second)).toBe(true);
    expect((await call(`${S}/get_permanent_code`, code, "made-up"))["errcode"]).toBe(40082);
    expect((await call(`${S}/get_permanent_code`, code))["errcode"]).toBe(41001);
    expect((await call(`${S}/get_permanent_code`, code, second))["errcode"]).toBe(40078);
    // Exactly the calls made, per suite: 3 token fetches (pushTicket once), none for the 代开发 template.
    expect(fake.calls(`${S}/get_suite_token`, SUITE)).toBe(3);
    expect(fake.calls(`${S}/get_suite_token`, DK)).toBe(0);
  });

  it("errcodes on demand for the next N calls: 40085, 42009 and 48004 per corp, 40082 on every endpoint", async () => {
    const { fake, call, suiteToken } = await setup({ suite: { corps: { wwcorpA: {}, wwcorpB: {} } } });
    const suite = fake.suite(SUITE);
    await suite.pushTicket();
    suite.failNext(40085, { times: 2 });
    const body = { suite_id: SUITE, suite_secret: SECRET, suite_ticket: suite.currentTicket() };
    expect((await call(`${S}/get_suite_token`, body))["errcode"]).toBe(40085);
    expect((await call(`${S}/get_suite_token`, body))["errcode"]).toBe(40085);
    const ST = await suiteToken();
    expect(ST).toEqual(expect.any(String));
    const corp = (id: string) => ({ auth_corpid: id, permanent_code: suite.permanentCodeOf(id) });
    suite.failNext(42009, { corpId: "wwcorpB" });
    suite.failNext(48004, { corpId: "wwcorpA", times: 2 });
    expect((await call(`${S}/get_corp_token`, corp("wwcorpB"), ST))["errcode"]).toBe(42009);
    expect((await call(`${S}/get_corp_token`, corp("wwcorpA"), ST))["errcode"]).toBe(48004);
    expect((await call(`${S}/get_corp_token`, corp("wwcorpA"), ST))["errcode"]).toBe(48004);
    expect((await call(`${S}/get_corp_token`, corp("wwcorpA"), ST))["errcode"]).toBe(0);
    expect((await call(`${S}/get_corp_token`, corp("wwcorpB"), ST))["errcode"]).toBe(0);
    suite.failNext(40082, { path: "*", times: 2 });
    expect((await call(`${S}/get_auth_info`, corp("wwcorpA"), ST))["errcode"]).toBe(40082);
    expect((await call(`${S}/get_corp_token`, corp("wwcorpA"), ST))["errcode"]).toBe(40082);
    expect((await call(`${S}/get_auth_info`, corp("wwcorpA"), ST))["errcode"]).toBe(0);
    expect(() => suite.failNext(45009)).toThrow(/give a path/);
    expect(fake.calls(`${S}/get_suite_token`, SUITE)).toBe(3);
    expect(fake.calls(`${S}/get_corp_token`, `${SUITE}/wwcorpA`)).toBe(4);
    expect(fake.calls(`${S}/get_corp_token`, `${SUITE}/wwcorpB`)).toBe(2);
  });
});

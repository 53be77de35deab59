/**
 * The fake's tickets and WeCom host, over real HTTP: what the server's tests
 * rely on it to do, checked on their own.
 */
import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { FakeClock } from "../../src/clock.js";
import { FakeWeChat } from "../../src/fake-wechat/index.js";

const APP = "wx1111111111111111";
const CORP = "ww0123456789abcdef";
let fake: FakeWeChat | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

async function get(url: string): Promise<Record<string, unknown>> {
  const res = await request(url);
  expect(res.statusCode).toBe(200);
  return (await res.body.json()) as Record<string, unknown>;
}

async function start(clock: FakeClock, extra: ConstructorParameters<typeof FakeWeChat>[0] extends infer O ? Partial<O> : never = {}) {
  fake = new FakeWeChat({ apps: { [APP]: "s" }, clock, wecom: { [CORP]: { "1000002": "a1", "1000003": "a2" } }, ...extra });
  await fake.start();
  return fake;
}

describe("the fake's JS-SDK tickets", () => {
  it("answers the same ticket with expires_in 7200 while it is valid, a new one after, and survives the token's rotation", async () => {
    const clock = new FakeClock();
    const f = await start(clock);
    const token = async () => (await get(`${f.url}/cgi-bin/token?grant_type=client_credential&appid=${APP}&secret=s`)).access_token as string;
    const ticket = async (t: string, type = "jsapi") => get(`${f.url}/cgi-bin/ticket/getticket?access_token=${t}&type=${type}`);
    const t1 = await token();
    const a = await ticket(t1);
    expect(a).toMatchObject({ errcode: 0, errmsg: "ok", expires_in: 7200 });
    await clock.advance(7000_000);
    const t2 = await token();
    expect(await ticket(t2)).toMatchObject({ ticket: a.ticket, expires_in: 7200 });
    expect(await ticket(t2, "wx_card")).not.toMatchObject({ ticket: a.ticket });
    expect((await ticket(t2, "nope")).errcode).toBe(40097);
    await clock.advance(200_000);
    expect((await ticket(t2)).ticket).not.toBe(a.ticket);
    expect(f.successfulTicketCalls(APP, "jsapi")).toBe(3);
    expect((await get(`${f.url}/cgi-bin/ticket/getticket?type=jsapi`)).errcode).toBe(41001);
  });

  it("refuses past the daily ticket limit with 45009", async () => {
    const f = await start(new FakeClock(), { ticketDailyQuota: 2 });
    const t = (await get(`${f.url}/cgi-bin/token?grant_type=client_credential&appid=${APP}&secret=s`)).access_token as string;
    for (let i = 0; i < 2; i++) expect((await get(`${f.url}/cgi-bin/ticket/getticket?access_token=${t}&type=jsapi`)).errcode).toBe(0);
    expect((await get(`${f.url}/cgi-bin/ticket/getticket?access_token=${t}&type=jsapi`)).errcode).toBe(45009);
  });
});

describe("the fake's WeCom host", () => {
  it("issues one token per secret, the same while valid, and WeCom's errcodes", async () => {
    const clock = new FakeClock();
    const f = await start(clock);
    const gettoken = (corp: string, secret: string) => get(`${f.wecomUrl}/cgi-bin/gettoken?corpid=${corp}&corpsecret=${secret}`);
    const a = await gettoken(CORP, "a1");
    expect(a).toMatchObject({ errcode: 0, errmsg: "ok", expires_in: 7200 });
    expect((await gettoken(CORP, "a1")).access_token).toBe(a.access_token);
    expect((await gettoken(CORP, "a2")).access_token).not.toBe(a.access_token);
    expect(await gettoken(CORP, "wrong")).toMatchObject({ errcode: 40001, errmsg: expect.stringContaining("more info at https://open.work.weixin.qq.com/devtool/query?e=40001") });
    expect((await gettoken("wwunknown", "a1")).errcode).toBe(40013);
    // Early cut: 40014, and gettoken gives a new one.
    f.invalidateWeComToken(CORP, "1000002");
    expect((await get(`${f.wecomUrl}/cgi-bin/agent/get?access_token=${a.access_token}&agentid=1000002`)).errcode).toBe(40014);
    const b = await gettoken(CORP, "a1");
    expect(b.access_token).not.toBe(a.access_token);
    expect((await get(`${f.wecomUrl}/cgi-bin/agent/get?access_token=${b.access_token}&agentid=1000002`)).errcode).toBe(0);
    expect((await get(`${f.wecomUrl}/cgi-bin/agent/get?access_token=${b.access_token}&agentid=1000003`)).errcode).toBe(301002);
    await clock.advance(7200_000);
    expect((await get(`${f.wecomUrl}/cgi-bin/agent/get?access_token=${b.access_token}&agentid=1000002`)).errcode).toBe(42001);
    expect(f.successfulWeComTokenCalls(`${CORP}/1000002`)).toBe(3);
    // The Official Account host knows nothing of WeCom's paths.
    expect((await request(`${f.url}/cgi-bin/gettoken?corpid=${CORP}&corpsecret=a1`)).statusCode).toBe(404);
  });

  it("limits ticket fetches to 100 an hour per agent and 400 per corp, and starts again the next hour", async () => {
    const clock = new FakeClock();
    const f = await start(clock, { wecomTicketsPerAgentHour: 3, wecomTicketsPerCorpHour: 4 });
    const tok = async (s: string) => (await get(`${f.wecomUrl}/cgi-bin/gettoken?corpid=${CORP}&corpsecret=${s}`)).access_token as string;
    const [t1, t2] = [await tok("a1"), await tok("a2")];
    const agentTicket = (t: string) => get(`${f.wecomUrl}/cgi-bin/ticket/get?access_token=${t}&type=agent_config`);
    const corpTicket = (t: string) => get(`${f.wecomUrl}/cgi-bin/get_jsapi_ticket?access_token=${t}`);
    expect((await agentTicket(t1)).errcode).toBe(0);
    expect((await corpTicket(t1)).errcode).toBe(0);
    expect((await agentTicket(t1)).errcode).toBe(0);
    expect((await agentTicket(t1)).errcode).toBe(45009); // the agent's 3
    expect((await agentTicket(t2)).errcode).toBe(0); // the corp's 4th
    expect((await corpTicket(t2)).errcode).toBe(45009); // the corp's 4 are used
    expect((await get(`${f.wecomUrl}/cgi-bin/ticket/get?access_token=${t2}&type=other`)).errcode).toBe(40097);
    await clock.advance(3_600_000 - (clock.now() % 3_600_000));
    const again = await agentTicket(t1);
    expect(again.errcode).toBe(0);
    expect(f.currentTicket(`${CORP}/1000002`, "agent_config")).toBe(again.ticket);
    expect(f.currentTicket(CORP, "jsapi")).toBeDefined();
  });

  it("takes faults aimed at one agent, and the control routes", async () => {
    const f = await start(new FakeClock());
    f.inject({ path: "/cgi-bin/gettoken", appId: `${CORP}/1000003`, errcode: 60020, times: 1 });
    expect((await get(`${f.wecomUrl}/cgi-bin/gettoken?corpid=${CORP}&corpsecret=a1`)).errcode).toBe(0);
    expect(await get(`${f.wecomUrl}/cgi-bin/gettoken?corpid=${CORP}&corpsecret=a2`)).toMatchObject({ errcode: 60020, errmsg: expect.stringContaining("not allow to access from your ip") });
    const a = (await get(`${f.wecomUrl}/cgi-bin/gettoken?corpid=${CORP}&corpsecret=a1`)).access_token as string;
    expect((await request(`${f.url}/_fake/wecom/invalidate?corpid=${CORP}&agent=1000002`, { method: "POST" })).statusCode).toBe(200);
    expect(f.isWeComTokenValid(CORP, "1000002", a)).toBe(false);
    const t = (await get(`${f.wecomUrl}/cgi-bin/gettoken?corpid=${CORP}&corpsecret=a1`)).access_token as string;
    const first = (await get(`${f.wecomUrl}/cgi-bin/ticket/get?access_token=${t}&type=agent_config`)).ticket;
    expect((await request(`${f.url}/_fake/invalidate-ticket?owner=${CORP}/1000002&type=agent_config`, { method: "POST" })).statusCode).toBe(200);
    expect((await get(`${f.wecomUrl}/cgi-bin/ticket/get?access_token=${t}&type=agent_config`)).ticket).not.toBe(first);
  });
});

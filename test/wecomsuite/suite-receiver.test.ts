/**
 * Bad input on a WeCom suite's 指令回调URL, through the real server's push
 * receiver over HTTP (the Open Platform's rows are tested on the receiver
 * alone, in test/platform/): each refusal has its status, its result in the
 * pushes metric, and nothing stored; messages that pass the envelope but
 * carry nothing to act on (no AuthCode, another suite's id inside, a corp
 * not held) are answered success and change nothing; no secret in any log.
 */
import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { messageXml, sealPush, type PushKeys, type SealedPush } from "../../src/platform/push.js";
import type { PlatformStore } from "../../src/platform/store.js";
import { SuitePlatform } from "../../src/wecomsuite/suite.js";
import { eventually } from "../support/harness.js";
import { AES_KEY, CALLBACK_TOKEN, CORP1, CORP2, DK, PROVIDER_SECRET, SUITE, SUITE_SECRET, SuiteHarness } from "../support/suite-platform.js";
import { pushFirstTicket } from "../support/suite-ticket.js";

const KEYS: PushKeys = { token: CALLBACK_TOKEN, encodingAesKey: AES_KEY, receiverId: SUITE };
const TICKET = "suite-ticket-pushed-in-a-bad-push-NEVER-STORED";
const PERMANENT_CODE = "/cgi-bin/service/get_permanent_code";

let running: SuiteHarness | undefined;
afterEach(async () => {
  await running?.stop();
  running = undefined;
});

async function start(): Promise<SuiteHarness> {
  running = await SuiteHarness.start({ config: { metrics: { listen: "127.0.0.1:0" } } });
  return running;
}

function suiteOf(s: SuiteHarness): SuitePlatform {
  const p = s.h.server.platforms.get(SUITE);
  if (!(p instanceof SuitePlatform)) throw new Error("no suite");
  return p;
}

const store = (s: SuiteHarness) => s.h.server.store as unknown as PlatformStore;
const seconds = (s: SuiteHarness) => Math.floor(s.clock.now() / 1000);

function ticketFields(s: SuiteHarness, suiteId = SUITE): Record<string, string | number> {
  return { SuiteId: suiteId, InfoType: "suite_ticket", TimeStamp: seconds(s), SuiteTicket: TICKET };
}

/** Sealed as WeCom seals a suite's push (the `<ToUserName>` envelope). */
function seal(s: SuiteHarness, fields: Record<string, string | number>, o: { keys?: PushKeys; timestamp?: number } = {}): SealedPush {
  return sealPush(o.keys ?? KEYS, messageXml(fields), o.timestamp ?? seconds(s), undefined, "wecom");
}

async function post(s: SuiteHarness, push: SealedPush, suiteId = SUITE): Promise<{ status: number; text: string }> {
  const res = await request(`${s.pushUrl(suiteId)}?${push.query}`, { method: "POST", body: push.body, headers: { "content-type": "text/xml" } });
  return { status: res.statusCode, text: await res.body.text() };
}

/** The receiver's count of pushes to SUITE with this result. */
async function pushes(s: SuiteHarness, result: string): Promise<number> {
  const text = await (await request(`http://127.0.0.1:${s.h.server.metricsPort}/metrics`)).body.text();
  let n = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith("wxtoken_platform_pushes_total{") && line.includes(`component="${SUITE}"`) && line.includes(`result="${result}"`)) n += Number(line.split(" ").at(-1));
  }
  return n;
}

/** Nothing from a push was kept: no ticket, no code, no corp; and WeCom was not called about one. */
async function nothingStored(s: SuiteHarness): Promise<void> {
  expect(await store(s).ticket(SUITE)).toBeUndefined();
  expect(suiteOf(s).heldTicket()).toBeUndefined();
  expect(await store(s).pendingCodes(SUITE)).toEqual([]);
  expect([...(await store(s).authorizers(SUITE)).keys()]).toEqual([]);
  expect(s.fake.calls(PERMANENT_CODE)).toBe(0);
  expect(s.calls("get_suite_token", SUITE)).toBe(0);
}

function expectCleanLogs(s: SuiteHarness, more: string[] = []): void {
  const text = s.h.logs.text();
  for (const secret of [CALLBACK_TOKEN, AES_KEY, SUITE_SECRET, PROVIDER_SECRET, TICKET, ...more]) expect(text).not.toContain(secret);
}

describe("a WeCom suite's push URL refuses bad input", () => {
  it("403 bad_signature: a msg_signature that does not match, or another Token's", async () => {
    const s = await start();
    const push = seal(s, ticketFields(s));
    const tampered = new URLSearchParams(push.query);
    tampered.set("msg_signature", "0".repeat(40));
    expect(await post(s, { ...push, query: tampered })).toEqual({ status: 403, text: "bad signature" });
    expect(await post(s, seal(s, ticketFields(s), { keys: { ...KEYS, token: "another-token" } }))).toEqual({ status: 403, text: "bad signature" });
    expect(await pushes(s, "bad_signature")).toBe(2);
    await nothingStored(s);
    expectCleanLogs(s);
  });

  it("403 wrong_receiver: sealed for another suite (same Token and key), in the envelope or only inside", async () => {
    const s = await start();
    const forDk = { ...KEYS, receiverId: DK };
    expect(await post(s, seal(s, ticketFields(s, DK), { keys: forDk }))).toEqual({ status: 403, text: "wrong receiver" });
    // The envelope names this suite; the ciphertext was made for DK.
    const inner = seal(s, ticketFields(s, DK), { keys: forDk });
    inner.body = inner.body.replace(`<ToUserName><![CDATA[${DK}]]></ToUserName>`, `<ToUserName><![CDATA[${SUITE}]]></ToUserName>`);
    expect(inner.body).toContain(SUITE);
    expect(await post(s, inner)).toEqual({ status: 403, text: "wrong receiver" });
    expect(await pushes(s, "wrong_receiver")).toBe(2);
    await nothingStored(s);
    expect(await store(s).ticket(DK)).toBeUndefined();
    expectCleanLogs(s);
  });

  it("403 stale_timestamp: more than 5 minutes off the server's clock, either way", async () => {
    const s = await start();
    for (const off of [-301, 301]) {
      expect(await post(s, seal(s, ticketFields(s), { timestamp: seconds(s) + off }))).toEqual({ status: 403, text: "stale timestamp" });
    }
    expect(await pushes(s, "stale_timestamp")).toBe(2);
    await nothingStored(s);
    expectCleanLogs(s);
  });

  it("413 too_large: a body over the receiver's maxBodyBytes (64 KiB)", async () => {
    const s = await start();
    const push = seal(s, ticketFields(s));
    const body = push.body.replace("</xml>", `<Pad>${"x".repeat(70_000)}</Pad></xml>`);
    expect(await post(s, { ...push, body })).toEqual({ status: 413, text: "body too large" });
    expect(await pushes(s, "too_large")).toBe(1);
    await nothingStored(s);
    expectCleanLogs(s);
  });

  it("400 malformed: XML that is broken, has a DOCTYPE, lacks Encrypt, or decrypts to no InfoType", async () => {
    const s = await start();
    const push = seal(s, ticketFields(s));
    const bodies = [push.body.replace("</xml>", ""), push.body.replace("<xml>", `<!DOCTYPE x [<!ENTITY a "b">]><xml>`), `<xml><ToUserName><![CDATA[${SUITE}]]></ToUserName></xml>`, "not xml", ""];
    for (const body of bodies) expect(await post(s, { ...push, body })).toEqual({ status: 400, text: "malformed push" });
    const { InfoType: _, ...noInfoType } = ticketFields(s);
    expect(await post(s, seal(s, noInfoType))).toEqual({ status: 400, text: "malformed push" });
    const noQuery = seal(s, ticketFields(s));
    noQuery.query.delete("nonce");
    expect(await post(s, noQuery)).toEqual({ status: 400, text: "malformed push" });
    expect(await pushes(s, "malformed")).toBe(bodies.length + 2);
    await nothingStored(s);
    expectCleanLogs(s);
  });

  it("200 duplicate: a create_auth replayed (the very same request) is kept and exchanged once", async () => {
    const s = await start();
    await pushFirstTicket(s);
    const { authCode } = s.suite().installByRedirect(CORP1);
    const push = seal(s, { SuiteId: SUITE, AuthCode: authCode, InfoType: "create_auth", TimeStamp: seconds(s) });
    expect(await post(s, push)).toEqual({ status: 200, text: "success" });
    await eventually(() => expect(suiteOf(s).holds(CORP1)).toBe(true));
    expect(await post(s, push)).toEqual({ status: 200, text: "success" });
    expect(await pushes(s, "duplicate")).toBe(1);
    await eventually(async () => expect(await store(s).pendingCodes(SUITE)).toEqual([]));
    expect(s.fake.calls(PERMANENT_CODE)).toBe(1);
    expectCleanLogs(s, [authCode, s.suite().permanentCodeOf(CORP1)!]);
  });
});

describe("a WeCom suite's push URL ignores what it cannot act on", () => {
  it("create_auth with an empty AuthCode: success, nothing kept, WeCom not asked", async () => {
    const s = await start();
    const empties: Record<string, string | number>[] = [
      { SuiteId: SUITE, AuthCode: "", InfoType: "create_auth", TimeStamp: seconds(s) },
      { SuiteId: SUITE, InfoType: "create_auth", TimeStamp: seconds(s) },
      { SuiteId: SUITE, AuthCode: "", InfoType: "reset_permanent_code", TimeStamp: seconds(s) },
    ];
    for (const fields of empties) {
      expect(await post(s, seal(s, fields))).toEqual({ status: 200, text: "success" });
    }
    expect(await pushes(s, "ignored")).toBe(3);
    await nothingStored(s);
    expect(s.h.logs.text()).toContain("push without a valid AuthCode; ignored");
  });

  it("a message naming another SuiteId inside (sealed for this suite): success, nothing stored for either suite", async () => {
    const s = await start();
    expect(await post(s, seal(s, ticketFields(s, DK)))).toEqual({ status: 200, text: "success" });
    const { authCode } = s.suite(DK).installByRedirect(CORP1);
    expect(await post(s, seal(s, { SuiteId: DK, AuthCode: authCode, InfoType: "create_auth", TimeStamp: seconds(s) }))).toEqual({ status: 200, text: "success" });
    expect(await pushes(s, "ignored")).toBe(2);
    await nothingStored(s);
    expect(await store(s).ticket(DK)).toBeUndefined();
    expect(await store(s).pendingCodes(DK)).toEqual([]);
    expect(s.h.logs.text()).toContain("push names another suite id; ignored");
    expectCleanLogs(s, [authCode]);
  });

  it("change_auth and cancel_auth for a corp not held: success, no call to WeCom, nothing served; the corp can still install after", async () => {
    const s = await start();
    await pushFirstTicket(s);
    for (const InfoType of ["change_auth", "cancel_auth"]) {
      expect(await post(s, seal(s, { SuiteId: SUITE, InfoType, TimeStamp: seconds(s), AuthCorpId: CORP2 }))).toEqual({ status: 200, text: "success" });
    }
    // A malformed corp id too.
    expect(await post(s, seal(s, { SuiteId: SUITE, InfoType: "cancel_auth", TimeStamp: seconds(s), AuthCorpId: "not a corp" }))).toEqual({ status: 200, text: "success" });
    expect(s.calls("get_auth_info")).toBe(0);
    expect(s.calls("get_corp_token")).toBe(0);
    expect(suiteOf(s).holds(CORP2)).toBe(false);
    expect(suiteOf(s).authorizerCount()).toBe(0);
    expect((await s.list()).authorizers).toEqual([]);

    // The corp installs a second later: served (the cancel_auth before it does not hold it back).
    await s.clock.advance(1000);
    expect((await s.suite().install(CORP2)).body).toBe("success");
    await eventually(() => expect(suiteOf(s).holds(CORP2)).toBe(true));
    const t = (await s.h.get({ appId: CORP2, platformId: SUITE })).token!.accessToken;
    expect(s.fake.isWeComTokenValid(CORP2, String(s.suite().corp(CORP2)!.agentId), t)).toBe(true);
  });
});

describe("a WeCom suite answers create_auth in time", () => {
  it("within 1000 ms while get_permanent_code takes 1.5 s: the code is kept first, the corp arrives after the exchange", async () => {
    const s = await start();
    await pushFirstTicket(s);
    s.fake.inject({ path: PERMANENT_CODE, delayMs: 1500 });
    const pushed = await s.suite().install(CORP1);
    expect(pushed.body).toBe("success");
    expect(pushed.late).toBe(false);
    expect(pushed.elapsedMs).toBeLessThan(1000);
    expect(s.suite().lateAnswers).toBe(0);
    // Answered with the code kept, the exchange still under way.
    expect((await store(s).pendingCodes(SUITE)).map((p) => p.code)).toEqual([pushed.authCode]);
    expect(suiteOf(s).holds(CORP1)).toBe(false);
    await eventually(() => expect(suiteOf(s).holds(CORP1)).toBe(true), 5000);
    await eventually(async () => expect(await store(s).pendingCodes(SUITE)).toEqual([]));
    expect(s.fake.calls(PERMANENT_CODE)).toBe(1);
    const t = (await s.h.get({ appId: CORP1, platformId: SUITE })).token!.accessToken;
    expect(s.fake.isWeComTokenValid(CORP1, String(s.suite().corp(CORP1)!.agentId), t)).toBe(true);
  });
});

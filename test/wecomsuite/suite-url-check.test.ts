/**
 * The fake console's URL check (验证URL, FakeSuite.verifyUrl() and POST
 * /_fake/suite/verify-url) against wxtoken's own push receiver over real
 * HTTP: ok when the server holds the suite's Token and EncodingAESKey, and
 * not ok, with the receiver's refusal, when it holds another Token or
 * another key, or when the URL is not the suite's command callback URL.
 */
import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { AES_KEY, CALLBACK_TOKEN, DK, SUITE, SuiteHarness, type SuiteHarnessOptions } from "../support/suite-platform.js";

let running: SuiteHarness | undefined;
afterEach(async () => {
  await running?.stop();
  running = undefined;
});
const start = async (o: SuiteHarnessOptions = {}) => (running = await SuiteHarness.start(o));

/** A 43-character EncodingAESKey other than the fake's. */
const OTHER_KEY = "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut";

describe("the fake console's URL check against wxtoken's receiver", () => {
  it("is ok for a receiver holding the suite's Token and EncodingAESKey, through the method and the control route", async () => {
    const s = await start();
    expect(await s.suite().verifyUrl()).toMatchObject({ ok: true, status: 200 });
    expect(await s.suite(DK).verifyUrl()).toMatchObject({ ok: true, status: 200 });

    const res = await request(`${s.fake.url}/_fake/suite/verify-url?suite=${SUITE}`, { method: "POST" });
    const text = await res.body.text();
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(text)).toMatchObject({ ok: true, status: 200 });
    for (const secret of [CALLBACK_TOKEN, AES_KEY]) expect(text).not.toContain(secret);
  });

  it("is not ok, with the receiver's refusal, for a receiver holding another Token", async () => {
    const s = await start({ env: { CALLBACK_TOKEN: "another-callback-token" } });
    expect(await s.suite().verifyUrl()).toMatchObject({ ok: false, status: 403, reason: "the receiver answered HTTP 403: bad signature" });
  });

  it("is not ok for a receiver holding another EncodingAESKey", async () => {
    const s = await start({ env: { AES_KEY: OTHER_KEY } });
    const r = await s.suite().verifyUrl();
    expect(r.ok).toBe(false);
    // Decrypted with the wrong key, the echostr almost always fails its padding; in the rare case it passes, its length or receiver id does not.
    expect(r.reason).toMatch(/^the receiver answered HTTP (400: bad ciphertext|403: wrong receiver)$/);
  });

  it("is not ok for a URL that is not the suite's command callback URL", async () => {
    const s = await start();
    // Another suite's path: the signature holds (same Token here) but the echostr is for another receiver.
    s.suite().pushUrl = s.pushUrl(DK);
    expect(await s.suite().verifyUrl()).toMatchObject({ ok: false, status: 403, reason: "the receiver answered HTTP 403: wrong receiver" });
    // No platform on the path.
    s.suite().pushUrl = `http://127.0.0.1:${s.h.server.receiverPort}/wechat/wecom/elsewhere`;
    expect(await s.suite().verifyUrl()).toMatchObject({ ok: false, status: 404, reason: "the receiver answered HTTP 404: not found" });
    // Back on its own URL, the same suite passes: the failures above were the URLs'.
    s.suite().pushUrl = s.pushUrl(SUITE);
    expect(await s.suite().verifyUrl()).toMatchObject({ ok: true, status: 200 });
  });
});

/**
 * The fake WeCom console's URL check (验证URL) of a suite's 指令回调URL, over
 * real HTTP against stand-in URLs: the GET WeCom sends (msg_signature,
 * timestamp, nonce and an echostr encrypted for the suite id), checked here
 * with src/platform/crypto.ts as a receiver would; ok only for the echostr
 * answered decrypted and alone; why not otherwise; never the echostr, Token
 * or EncodingAESKey in what it answers. The check against wxtoken's own
 * receiver is test/wecomsuite/suite-url-check.test.ts.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { decrypt, verifySignature } from "../../src/platform/crypto.js";
import { AES_KEY, CALLBACK_TOKEN, SUITE, suitesPerTest } from "../support/fake-suite.js";

const setup = suitesPerTest();

interface Seen {
  method: string;
  query: URLSearchParams;
  /** The echostr decrypted for the suite id, when it was signed with the callback Token. */
  plain?: string;
}

/** A callback URL that answers each GET with answer(the decrypted echostr, the echostr as sent). */
async function urlAnswering(answer: (plain: string, echostr: string, res: ServerResponse) => void): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const query = new URL(req.url ?? "/", "http://x").searchParams;
    const [sig, ts, nonce, echostr] = ["msg_signature", "timestamp", "nonce", "echostr"].map((k) => query.get(k) ?? "");
    const signed = verifySignature(CALLBACK_TOKEN, ts!, nonce!, echostr!, sig!);
    const plain = signed ? decrypt(AES_KEY, echostr!, SUITE) : undefined;
    seen.push({ method: req.method ?? "", query, ...(plain === undefined ? {} : { plain }) });
    answer(plain ?? "", echostr!, res);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  cleanups.push(
    () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  );
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/wecom/suite?from=console`, seen };
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

describe("the fake suite's URL check (验证URL)", () => {
  it("sends WeCom's GET (echostr encrypted for the suite id, signed with the Token, the fake clock's time) and is ok when the plaintext comes back", async () => {
    const { fake, clock } = await setup();
    const target = await urlAnswering((plain, _echostr, res) => res.end(plain));
    const suite = fake.suite(SUITE);
    suite.pushUrl = target.url;

    expect(await suite.verifyUrl()).toMatchObject({ ok: true, status: 200 });
    const [sent] = target.seen;
    expect(sent!.method).toBe("GET");
    expect([...sent!.query.keys()].sort()).toEqual(["echostr", "from", "msg_signature", "nonce", "timestamp"]);
    expect(sent!.query.get("timestamp")).toBe(String(Math.floor(clock.now() / 1000)));
    expect(sent!.plain).toMatch(/^\d+$/);

    // The same through the control route; the answer carries no echostr, plain or encrypted, nor the keys.
    const res = await request(`${fake.url}/_fake/suite/verify-url?suite=${SUITE}`, { method: "POST" });
    const text = await res.body.text();
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(text)).toMatchObject({ ok: true, status: 200 });
    const second = target.seen[1]!;
    expect(second.plain).toBeDefined();
    expect(second.plain).not.toBe(sent!.plain);
    for (const secret of [second.plain!, second.query.get("echostr")!, CALLBACK_TOKEN, AES_KEY]) expect(text).not.toContain(secret);
  });

  it("is not ok, and says why, when the URL answers something else", async () => {
    const { fake } = await setup();
    const suite = fake.suite(SUITE);
    const check = async (answer: (plain: string, echostr: string, res: ServerResponse) => void) => {
      suite.pushUrl = (await urlAnswering(answer)).url;
      return suite.verifyUrl();
    };

    // A push handler's answer, not the echostr.
    expect(await check((_p, _e, res) => res.end("success"))).toMatchObject({ ok: false, status: 200, reason: "the answer was not the echostr" });
    // The echostr sent back as it came.
    const encrypted = await check((_p, echostr, res) => res.end(echostr));
    expect(encrypted).toMatchObject({ ok: false, status: 200, reason: expect.stringMatching(/still encrypted/) });
    // The plaintext with a newline (WeCom takes it alone).
    expect(await check((plain, _e, res) => res.end(`${plain}\n`))).toMatchObject({ ok: false, status: 200, reason: expect.stringMatching(/more around it/) });
    expect(await check((plain, _e, res) => res.end(`"${plain}"`))).toMatchObject({ ok: false, status: 200, reason: expect.stringMatching(/more around it/) });
    // A refusal is reported with its status and body, but a body carrying the echostr or a key has them withheld.
    let refusedWith = "";
    const refused = await check((plain, echostr, res) => {
      refusedWith = plain;
      res.statusCode = 403;
      res.end(`bad signature for ${plain} ${echostr} ${CALLBACK_TOKEN}`);
    });
    expect(refused).toMatchObject({ ok: false, status: 403, reason: expect.stringMatching(/^the receiver answered HTTP 403: bad signature for \[withheld\] \[withheld\] \[withheld\]$/) });
    expect(refusedWith).toMatch(/^\d+$/);
    expect(JSON.stringify(refused)).not.toContain(refusedWith);
  });

  it("is not ok without an answer; the route answers 409 without a push URL and 404 for a suite not configured", async () => {
    const { fake } = await setup();
    const suite = fake.suite(SUITE);
    suite.pushUrl = "http://127.0.0.1:9/unreachable";
    const unreachable = await suite.verifyUrl();
    expect(unreachable).toMatchObject({ ok: false, reason: expect.stringMatching(/^no answer: /) });
    expect(unreachable).not.toHaveProperty("status");

    const route = async (suiteId: string) => {
      const res = await request(`${fake.url}/_fake/suite/verify-url?suite=${suiteId}`, { method: "POST" });
      return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
    };
    expect(await route(SUITE)).toMatchObject({ status: 200, body: { ok: false, reason: expect.stringMatching(/^no answer: /) } });
    suite.pushUrl = undefined;
    expect(await route(SUITE)).toMatchObject({ status: 409, body: { error: expect.stringMatching(/no pushUrl/) } });
    await expect(suite.verifyUrl()).rejects.toThrow(/no pushUrl/);
    expect((await route("wwnosuchsuite00001")).status).toBe(404);
  });
});

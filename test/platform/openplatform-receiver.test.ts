/**
 * The push receiver (src/platform/receiver.ts) on its own, over real HTTP:
 * one test per row of its table of answers, with recording targets, a fake
 * clock, and every log line captured to prove that no secret (the message
 * token, the EncodingAESKey, the ticket, the Encrypt blob) is ever written.
 */
import { Readable } from "node:stream";
import { Agent, request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { FakeClock } from "../../src/clock.js";
import { createLogger } from "../../src/log.js";
import { computeSignature, encrypt } from "../../src/platform/crypto.js";
import { messageXml, sealPush, type PushKeys, type SealedPush } from "../../src/platform/push.js";
import { PushReceiver, type PushOutcome, type PushResultName, type PushTarget } from "../../src/platform/receiver.js";
import { cdata } from "../../src/platform/xml.js";
import { LogCapture } from "../support/harness.js";

const AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
const COMPONENT = "wxcomponentrecv001";
const OTHER_COMPONENT = "wxcomponentrecv002";
const TOKEN = "receiver-push-token-SHOULD-NEVER-LEAK";
const KEYS: PushKeys = { token: TOKEN, encodingAesKey: AES_KEY, receiverId: COMPONENT };
const PATH = `/wechat/open/${COMPONENT}`;
const TICKET = "ticket@@@receiver-verify-ticket-SHOULD-NEVER-LEAK";

// A second platform for the routing test: its own token, key and appid.
const AES_KEY_B = "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut";
const TOKEN_B = "second-push-token-SHOULD-NEVER-LEAK";
const COMPONENT_B = "wxcomponentrecv003";
const KEYS_B: PushKeys = { token: TOKEN_B, encodingAesKey: AES_KEY_B, receiverId: COMPONENT_B };
const PATH_B = "/callbacks/second-platform";
const TICKET_B = "ticket@@@second-verify-ticket-SHOULD-NEVER-LEAK";

const MAX_BODY = 4096;
const SKEW_MS = 300_000;

type Behaviour = PushOutcome | "reject";

/** A PushTarget whose handle() records every message and answers from a script (then `fallback`). */
class RecordingTarget implements PushTarget {
  readonly calls: Record<string, string>[] = [];
  readonly script: Behaviour[] = [];
  constructor(
    readonly path: string,
    readonly keys: PushKeys,
    public fallback: Behaviour = "stored",
  ) {}
  async handle(fields: Record<string, string>): Promise<PushOutcome> {
    this.calls.push({ ...fields });
    const b = this.script.shift() ?? this.fallback;
    if (b === "reject") throw new Error("store unavailable");
    return b;
  }
}

interface Observed {
  component: string | undefined;
  infoType: string | undefined;
  result: PushResultName;
}

interface Rig {
  clock: FakeClock;
  logs: LogCapture;
  observed: Observed[];
  target: RecordingTarget;
  targetB: RecordingTarget;
  base: string;
  /** Encrypt blobs sent in this test, none of which may be logged. */
  blobs: string[];
}

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function start(): Promise<Rig> {
  const clock = new FakeClock();
  const logs = new LogCapture();
  const observed: Observed[] = [];
  const target = new RecordingTarget(PATH, KEYS);
  const targetB = new RecordingTarget(PATH_B, KEYS_B);
  const receiver = new PushReceiver({
    listen: "127.0.0.1:0",
    targets: [target, targetB],
    maxBodyBytes: MAX_BODY,
    maxClockSkewMs: SKEW_MS,
    clock,
    log: createLogger({ level: "debug", destination: logs }),
    observe: (component, infoType, result) => observed.push({ component, infoType, result }),
  });
  const port = await receiver.listen();
  cleanups.push(() => receiver.close());
  expect(receiver.boundPort).toBe(port);
  return { clock, logs, observed, target, targetB, base: `http://127.0.0.1:${port}`, blobs: [] };
}

let agent: Agent | undefined;
afterEach(async () => {
  await agent?.close();
  agent = undefined;
});

interface Answer {
  status: number;
  text: string;
  headers: Record<string, string | string[] | undefined>;
}

async function send(
  rig: Rig,
  path: string,
  query: URLSearchParams | string,
  body?: string | Readable,
  opts: { method?: "POST" | "GET" | "PUT" | "HEAD"; headers?: Record<string, string> } = {},
): Promise<Answer> {
  agent ??= new Agent();
  if (typeof body === "string") {
    const blob = /<Encrypt><!\[CDATA\[(.*?)\]\]><\/Encrypt>/.exec(body)?.[1] ?? /<Encrypt>([^<]*)<\/Encrypt>/.exec(body)?.[1];
    if (blob) rig.blobs.push(blob);
  }
  const q = String(query);
  const res = await request(`${rig.base}${path}${q ? `?${q}` : ""}`, {
    method: opts.method ?? "POST",
    body,
    headers: { "content-type": "text/xml", ...opts.headers },
    dispatcher: agent,
  });
  return { status: res.statusCode, text: await res.body.text(), headers: res.headers };
}

function post(rig: Rig, push: SealedPush, path = PATH): Promise<Answer> {
  return send(rig, path, push.query, push.body);
}

const nowSeconds = (rig: Rig) => Math.floor(rig.clock.now() / 1000);

function ticketFields(rig: Rig, component = COMPONENT, ticket = TICKET): Record<string, string | number> {
  return { AppId: component, CreateTime: nowSeconds(rig), InfoType: "component_verify_ticket", ComponentVerifyTicket: ticket };
}

function ticketPush(rig: Rig, keys = KEYS, ticket = TICKET, timestampSeconds = nowSeconds(rig)): SealedPush {
  return sealPush(keys, messageXml(ticketFields(rig, keys.receiverId, ticket)), timestampSeconds);
}

/** A body with this Encrypt text, and a query correctly signed over it. */
function signedRaw(rig: Rig, encrypted: string, keys = KEYS): SealedPush {
  const timestamp = String(nowSeconds(rig));
  const nonce = "123456789";
  const query = new URLSearchParams({ timestamp, nonce, encrypt_type: "aes", msg_signature: computeSignature(keys.token, timestamp, nonce, encrypted) });
  return { query, body: `<xml><AppId>${cdata(keys.receiverId)}</AppId><Encrypt>${cdata(encrypted)}</Encrypt></xml>` };
}

/** The captured log holds no secret of this test, and says what happened. */
function expectCleanLogs(rig: Rig, result: PushResultName): void {
  const text = rig.logs.text();
  for (const secret of [TOKEN, AES_KEY, TICKET, TOKEN_B, AES_KEY_B, TICKET_B, ...rig.blobs]) expect(text).not.toContain(secret);
  // The key's base64 value as raw bytes would also be a leak; so would the ticket's distinctive tail.
  expect(text).not.toContain("SHOULD-NEVER-LEAK");
  expect(text).toContain(`"result":"${result}"`);
}

function expectAnswer(answer: Answer, status: number, text: string): void {
  expect({ status: answer.status, text: answer.text }).toEqual({ status, text });
  expect(answer.headers["content-type"]).toBe("text/plain; charset=utf-8");
  expect(answer.headers["cache-control"]).toBe("no-store");
}

function lastResult(rig: Rig): PushResultName | undefined {
  return rig.observed.at(-1)?.result;
}

describe("PushReceiver: the table of answers", () => {
  it("200 stored: a fresh, valid push is handled once and answered success", async () => {
    const rig = await start();
    const push = ticketPush(rig);
    expectAnswer(await post(rig, push), 200, "success");
    expect(rig.target.calls).toEqual([{ AppId: COMPONENT, CreateTime: String(nowSeconds(rig)), InfoType: "component_verify_ticket", ComponentVerifyTicket: TICKET }]);
    expect(rig.targetB.calls).toEqual([]);
    expect(rig.observed).toEqual([{ component: COMPONENT, infoType: "component_verify_ticket", result: "stored" }]);
    expectCleanLogs(rig, "stored");
  });

  it("404 not_found: a path that is no platform's (whatever the method), handle() not called", async () => {
    const rig = await start();
    const push = ticketPush(rig);
    for (const path of ["/", "/wechat/open/wxunknown", `${PATH}/`, `${PATH}/extra`, PATH.toUpperCase()]) {
      expectAnswer(await post(rig, push, path), 404, "not found");
    }
    expectAnswer(await send(rig, "/elsewhere", "", undefined, { method: "GET" }), 404, "not found");
    expect(rig.target.calls).toEqual([]);
    expect(rig.targetB.calls).toEqual([]);
    expect(rig.observed.map((o) => o.result)).toEqual(Array(6).fill("not_found"));
    expect(rig.observed.every((o) => o.component === undefined && o.infoType === undefined)).toBe(true);
    expectCleanLogs(rig, "not_found");
  });

  it.each(["GET", "PUT", "HEAD"] as const)("405 method_not_allowed for %s, with Allow: POST, handle() not called", async (method) => {
    const rig = await start();
    const push = ticketPush(rig);
    const answer = await send(rig, PATH, push.query, method === "PUT" ? push.body : undefined, { method });
    // HEAD gets the status and headers, never a body.
    expectAnswer(answer, 405, method === "HEAD" ? "" : "method not allowed");
    expect(answer.headers["allow"]).toBe("POST");
    expect(rig.target.calls).toEqual([]);
    expect(rig.observed).toEqual([{ component: COMPONENT, infoType: undefined, result: "method_not_allowed" }]);
    expectCleanLogs(rig, "method_not_allowed");
  });

  it("413 too_large: a content-length over maxBodyBytes", async () => {
    const rig = await start();
    const push = ticketPush(rig);
    const body = push.body.replace("</xml>", `<Pad>${"x".repeat(MAX_BODY)}</Pad></xml>`);
    expect(Buffer.byteLength(body)).toBeGreaterThan(MAX_BODY);
    const answer = await send(rig, PATH, push.query, body);
    expectAnswer(answer, 413, "body too large");
    expect(answer.headers["connection"]).toBe("close");
    expect(rig.target.calls).toEqual([]);
    expect(lastResult(rig)).toBe("too_large");
    expect(rig.logs.text()).toMatch(/content-length \d+ over 4096/);
    expectCleanLogs(rig, "too_large");
  });

  it("413 too_large: a chunked body (no content-length) that grows over maxBodyBytes", async () => {
    const rig = await start();
    const push = ticketPush(rig);
    const blob = /<Encrypt><!\[CDATA\[(.*?)\]\]>/.exec(push.body)![1]!;
    rig.blobs.push(blob);
    const chunk = "y".repeat(1024);
    async function* chunks() {
      yield push.body.replace("</xml>", "<Pad>");
      for (let i = 0; i < 6; i++) yield chunk;
      yield "</Pad></xml>";
    }
    const answer = await send(rig, PATH, push.query, Readable.from(chunks()));
    expectAnswer(answer, 413, "body too large");
    expect(rig.target.calls).toEqual([]);
    expect(lastResult(rig)).toBe("too_large");
    expect(rig.logs.text()).toMatch(/body over 4096 bytes/);
    expectCleanLogs(rig, "too_large");
  });

  it("a body of exactly maxBodyBytes, chunked, is still read and handled", async () => {
    const rig = await start();
    const push = ticketPush(rig);
    rig.blobs.push(/<Encrypt><!\[CDATA\[(.*?)\]\]>/.exec(push.body)![1]!);
    // The outer XML has room for two more fields; whitespace between them pads it to the limit.
    const body = push.body.replace("</xml>", `${" ".repeat(MAX_BODY - Buffer.byteLength(push.body))}</xml>`);
    expect(Buffer.byteLength(body)).toBe(MAX_BODY);
    async function* halves() {
      yield body.slice(0, 2000);
      yield body.slice(2000);
    }
    expectAnswer(await send(rig, PATH, push.query, Readable.from(halves())), 200, "success");
    expect(rig.target.calls).toHaveLength(1);
    expectCleanLogs(rig, "stored");
  });

  it.each(["timestamp", "nonce", "msg_signature"])("400 malformed: the query lacks %s", async (field) => {
    const rig = await start();
    const push = ticketPush(rig);
    push.query.delete(field);
    expectAnswer(await post(rig, push), 400, "malformed push");
    expect(rig.target.calls).toEqual([]);
    expect(lastResult(rig)).toBe("malformed");
    expectCleanLogs(rig, "malformed");
  });

  it("400 malformed: encrypt_type other than aes (and an empty one)", async () => {
    const rig = await start();
    for (const type of ["raw", "AES", ""]) {
      const push = ticketPush(rig);
      push.query.set("encrypt_type", type);
      expectAnswer(await post(rig, push), 400, "malformed push");
    }
    expect(rig.target.calls).toEqual([]);
    expect(rig.observed.map((o) => o.result)).toEqual(["malformed", "malformed", "malformed"]);
    expect(rig.logs.text()).toContain("encrypt_type is not aes");
    expectCleanLogs(rig, "malformed");
  });

  it("a push without encrypt_type at all is still accepted (only a present, non-aes one is refused)", async () => {
    const rig = await start();
    const push = ticketPush(rig);
    push.query.delete("encrypt_type");
    expectAnswer(await post(rig, push), 200, "success");
    expect(rig.target.calls).toHaveLength(1);
    expectCleanLogs(rig, "stored");
  });

  it("400 malformed: the outer XML is malformed", async () => {
    const rig = await start();
    const push = ticketPush(rig);
    const blob = /<Encrypt><!\[CDATA\[(.*?)\]\]>/.exec(push.body)![1]!;
    rig.blobs.push(blob);
    const bodies = [
      push.body.replace("</xml>", ""),
      push.body.replace("<xml>", `<!DOCTYPE x [<!ENTITY a "b">]><xml>`),
      push.body.replace("<AppId>", `<AppId kind="x">`),
      "not xml at all",
      "",
    ];
    for (const body of bodies) expectAnswer(await send(rig, PATH, push.query, body), 400, "malformed push");
    expect(rig.target.calls).toEqual([]);
    expect(rig.observed.map((o) => o.result)).toEqual(Array(bodies.length).fill("malformed"));
    expectCleanLogs(rig, "malformed");
  });

  it("400 malformed: the XML has no Encrypt", async () => {
    const rig = await start();
    const push = ticketPush(rig);
    rig.blobs.push(/<Encrypt><!\[CDATA\[(.*?)\]\]>/.exec(push.body)![1]!);
    const body = `<xml><AppId>${cdata(COMPONENT)}</AppId></xml>`;
    expectAnswer(await send(rig, PATH, push.query, body), 400, "malformed push");
    expect(rig.target.calls).toEqual([]);
    expect(lastResult(rig)).toBe("malformed");
    expect(rig.logs.text()).toContain("no Encrypt");
    expectCleanLogs(rig, "malformed");
  });

  it.each([
    ["not an integer", (s: number) => `${s}.5`],
    ["negative", (s: number) => `-${s}`],
    ["hex", (s: number) => `0x${s.toString(16)}`],
  ])("403 stale_timestamp: a timestamp that is %s", async (_what, format) => {
    const rig = await start();
    // Sealed (and signed) over the odd timestamp itself: only the timestamp rule refuses it.
    const xml = messageXml(ticketFields(rig));
    const timestamp = format(nowSeconds(rig));
    const encrypted = encrypt(AES_KEY, xml, COMPONENT);
    rig.blobs.push(encrypted);
    const query = new URLSearchParams({ timestamp, nonce: "42", encrypt_type: "aes", msg_signature: computeSignature(TOKEN, timestamp, "42", encrypted) });
    const body = `<xml><AppId>${cdata(COMPONENT)}</AppId><Encrypt>${cdata(encrypted)}</Encrypt></xml>`;
    expectAnswer(await send(rig, PATH, query, body), 403, "stale timestamp");
    expect(rig.target.calls).toEqual([]);
    expect(lastResult(rig)).toBe("stale_timestamp");
    expect(rig.logs.text()).toContain("timestamp is not an integer");
    expectCleanLogs(rig, "stale_timestamp");
  });

  it.each([
    ["in the past", -1],
    ["in the future", +1],
  ])("403 stale_timestamp: more than maxClockSkewMs %s (and accepted right at the limit)", async (_where, sign) => {
    const rig = await start();
    const now = nowSeconds(rig);
    const beyond = ticketPush(rig, KEYS, TICKET, now + sign * (SKEW_MS / 1000 + 1));
    expectAnswer(await post(rig, beyond), 403, "stale timestamp");
    expect(rig.target.calls).toEqual([]);
    expect(lastResult(rig)).toBe("stale_timestamp");
    expect(rig.logs.text()).toMatch(/timestamp is 301 s off the server's clock/);

    const atLimit = ticketPush(rig, KEYS, TICKET, now + sign * (SKEW_MS / 1000));
    expectAnswer(await post(rig, atLimit), 200, "success");
    expect(rig.target.calls).toHaveLength(1);

    // The clock moving makes a push stale too.
    const fresh = ticketPush(rig);
    rig.clock.set(rig.clock.now() - sign * (SKEW_MS + 1000));
    expectAnswer(await post(rig, fresh), 403, "stale timestamp");
    expect(rig.target.calls).toHaveLength(1);
    expectCleanLogs(rig, "stale_timestamp");
  });

  it("403 bad_signature: a msg_signature that does not match (tampered, or another token's)", async () => {
    const rig = await start();
    const push = ticketPush(rig);
    const sig = push.query.get("msg_signature")!;
    const variants = [
      "0".repeat(40),
      sig.slice(0, -1) + (sig.endsWith("0") ? "1" : "0"),
      sig.slice(0, 39),
      "not-hex",
    ];
    for (const v of variants) {
      const q = new URLSearchParams(push.query);
      q.set("msg_signature", v);
      expectAnswer(await send(rig, PATH, q, push.body), 403, "bad signature");
    }
    // Another nonce than the one signed.
    const otherNonce = new URLSearchParams(push.query);
    otherNonce.set("nonce", `${push.query.get("nonce")}9`);
    expectAnswer(await send(rig, PATH, otherNonce, push.body), 403, "bad signature");
    // Sealed with another token (same key and appid).
    expectAnswer(await post(rig, ticketPush(rig, { ...KEYS, token: "another-token" })), 403, "bad signature");
    expect(rig.target.calls).toEqual([]);
    expect(rig.observed.map((o) => o.result)).toEqual(Array(6).fill("bad_signature"));
    expectCleanLogs(rig, "bad_signature");
  });

  it("the signature's hex case is ignored", async () => {
    const rig = await start();
    const push = ticketPush(rig);
    push.query.set("msg_signature", push.query.get("msg_signature")!.toUpperCase());
    expectAnswer(await post(rig, push), 200, "success");
    expect(rig.target.calls).toHaveLength(1);
    expectCleanLogs(rig, "stored");
  });

  it("400 bad_ciphertext: a correctly signed Encrypt that is not base64, not whole blocks, or from another key", async () => {
    const rig = await start();
    const xml = messageXml(ticketFields(rig));
    const blobs = [
      "this is not base64!!",
      "QUJD", // 3 bytes
      Buffer.alloc(20, 7).toString("base64"), // not a multiple of 16
      "", // empty
      encrypt(AES_KEY_B, xml, COMPONENT, Buffer.alloc(16, 1)), // another key: bad padding or length
    ];
    for (const b of blobs) expectAnswer(await post(rig, signedRaw(rig, b)), 400, "bad ciphertext");
    expect(rig.target.calls).toEqual([]);
    expect(rig.observed.map((o) => o.result)).toEqual(Array(blobs.length).fill("bad_ciphertext"));
    expectCleanLogs(rig, "bad_ciphertext");
  });

  it("403 wrong_receiver: sealed for another component appid with the same token and key", async () => {
    const rig = await start();
    const other = { ...KEYS, receiverId: OTHER_COMPONENT };
    // As sealed: the outer AppId names the other platform.
    expectAnswer(await post(rig, ticketPush(rig, other)), 403, "wrong receiver");
    // The outer AppId dropped: the receiver id inside the ciphertext still refuses it.
    const encrypted = encrypt(AES_KEY, messageXml(ticketFields(rig, OTHER_COMPONENT)), OTHER_COMPONENT);
    const inner = signedRaw(rig, encrypted);
    inner.body = `<xml><Encrypt>${cdata(encrypted)}</Encrypt></xml>`;
    expectAnswer(await post(rig, inner), 403, "wrong receiver");
    // The outer AppId ours, the ciphertext for the other one.
    expectAnswer(await post(rig, signedRaw(rig, encrypted)), 403, "wrong receiver");
    expect(rig.target.calls).toEqual([]);
    expect(rig.observed.map((o) => o.result)).toEqual(["wrong_receiver", "wrong_receiver", "wrong_receiver"]);
    expectCleanLogs(rig, "wrong_receiver");
  });

  it("400 malformed: the decrypted message has no InfoType (or is not XML)", async () => {
    const rig = await start();
    const noInfoType = messageXml({ AppId: COMPONENT, CreateTime: nowSeconds(rig), ComponentVerifyTicket: TICKET });
    expectAnswer(await post(rig, sealPush(KEYS, noInfoType, nowSeconds(rig))), 400, "malformed push");
    expect(rig.logs.text()).toContain("message has no InfoType");
    const emptyInfoType = messageXml({ AppId: COMPONENT, InfoType: "", ComponentVerifyTicket: TICKET });
    expectAnswer(await post(rig, sealPush(KEYS, emptyInfoType, nowSeconds(rig))), 400, "malformed push");
    expectAnswer(await post(rig, sealPush(KEYS, `plain ${TICKET}`, nowSeconds(rig))), 400, "malformed push");
    expect(rig.target.calls).toEqual([]);
    expect(rig.observed.map((o) => o.result)).toEqual(["malformed", "malformed", "malformed"]);
    expectCleanLogs(rig, "malformed");
  });

  it("200 duplicate: the same sealed push sent twice is answered success but handled once", async () => {
    const rig = await start();
    const push = ticketPush(rig);
    expectAnswer(await post(rig, push), 200, "success");
    expectAnswer(await post(rig, push), 200, "success");
    expect(rig.target.calls).toHaveLength(1);
    expect(rig.observed).toEqual([
      { component: COMPONENT, infoType: "component_verify_ticket", result: "stored" },
      { component: COMPONENT, infoType: "component_verify_ticket", result: "duplicate" },
    ]);
    // The same message sealed again (another nonce, another signature) is a new push.
    expectAnswer(await post(rig, ticketPush(rig)), 200, "success");
    expect(rig.target.calls).toHaveLength(2);
    expectCleanLogs(rig, "duplicate");
  });

  it("a duplicate is still refused when its timestamp has gone stale (the skew rule comes first)", async () => {
    const rig = await start();
    const push = ticketPush(rig);
    expectAnswer(await post(rig, push), 200, "success");
    await rig.clock.advance(SKEW_MS + 1000);
    expectAnswer(await post(rig, push), 403, "stale timestamp");
    expect(rig.target.calls).toHaveLength(1);
    expectCleanLogs(rig, "stale_timestamp");
  });

  it("503 store_failed: handle() rejecting; the same push resent afterwards gets through, handled once successfully", async () => {
    const rig = await start();
    rig.target.script.push("reject");
    const push = ticketPush(rig);
    expectAnswer(await post(rig, push), 503, "try again");
    expect(rig.target.calls).toHaveLength(1);
    expectAnswer(await post(rig, push), 200, "success");
    expect(rig.target.calls).toHaveLength(2);
    // Now it was handled: a third send is a duplicate.
    expectAnswer(await post(rig, push), 200, "success");
    expect(rig.target.calls).toHaveLength(2);
    expect(rig.observed.map((o) => o.result)).toEqual(["store_failed", "stored", "duplicate"]);
    expect(rig.logs.text()).toContain("store unavailable");
    expectCleanLogs(rig, "store_failed");
  });

  it("200 ignored: handle() answering ignored is success, and the push is not handled again", async () => {
    const rig = await start();
    rig.target.fallback = "ignored";
    const push = sealPush(KEYS, messageXml({ AppId: COMPONENT, CreateTime: nowSeconds(rig), InfoType: "notify_something_new" }), nowSeconds(rig));
    expectAnswer(await post(rig, push), 200, "success");
    expect(rig.target.calls).toEqual([{ AppId: COMPONENT, CreateTime: String(nowSeconds(rig)), InfoType: "notify_something_new" }]);
    expectAnswer(await post(rig, push), 200, "success");
    expect(rig.target.calls).toHaveLength(1);
    expect(rig.observed).toEqual([
      { component: COMPONENT, infoType: "notify_something_new", result: "ignored" },
      { component: COMPONENT, infoType: "notify_something_new", result: "duplicate" },
    ]);
    expectCleanLogs(rig, "ignored");
  });
});

describe("PushReceiver: several platforms", () => {
  it("routes each path to its own target with its own keys; a push sealed for one path is refused on the other", async () => {
    const rig = await start();
    const forA = ticketPush(rig, KEYS, TICKET);
    const forB = ticketPush(rig, KEYS_B, TICKET_B);

    expectAnswer(await post(rig, forA, PATH), 200, "success");
    expectAnswer(await post(rig, forB, PATH_B), 200, "success");
    expect(rig.target.calls.map((c) => c["ComponentVerifyTicket"])).toEqual([TICKET]);
    expect(rig.targetB.calls.map((c) => c["ComponentVerifyTicket"])).toEqual([TICKET_B]);

    // Crossed over: the other platform's token does not sign it.
    const crossedA = ticketPush(rig, KEYS, TICKET);
    const crossedB = ticketPush(rig, KEYS_B, TICKET_B);
    expectAnswer(await post(rig, crossedA, PATH_B), 403, "bad signature");
    expectAnswer(await post(rig, crossedB, PATH), 403, "bad signature");
    expect(rig.target.calls).toHaveLength(1);
    expect(rig.targetB.calls).toHaveLength(1);

    // Refused on the wrong path, the same push still gets through on its own.
    expectAnswer(await post(rig, crossedA, PATH), 200, "success");
    expect(rig.target.calls).toHaveLength(2);

    expect(rig.observed).toEqual([
      { component: COMPONENT, infoType: "component_verify_ticket", result: "stored" },
      { component: COMPONENT_B, infoType: "component_verify_ticket", result: "stored" },
      { component: COMPONENT_B, infoType: undefined, result: "bad_signature" },
      { component: COMPONENT, infoType: undefined, result: "bad_signature" },
      { component: COMPONENT, infoType: "component_verify_ticket", result: "stored" },
    ]);
    expectCleanLogs(rig, "bad_signature");
  });

  it("observe is told every request's result, in order", async () => {
    const rig = await start();
    const push = ticketPush(rig);
    await send(rig, "/nowhere", "", "x");
    await send(rig, PATH, "", undefined, { method: "GET" });
    await post(rig, { ...push, query: new URLSearchParams() });
    await post(rig, push);
    await post(rig, push);
    rig.target.script.push("reject");
    await post(rig, ticketPush(rig));
    expect(rig.observed).toEqual([
      { component: undefined, infoType: undefined, result: "not_found" },
      { component: COMPONENT, infoType: undefined, result: "method_not_allowed" },
      { component: COMPONENT, infoType: undefined, result: "malformed" },
      { component: COMPONENT, infoType: "component_verify_ticket", result: "stored" },
      { component: COMPONENT, infoType: "component_verify_ticket", result: "duplicate" },
      { component: COMPONENT, infoType: "component_verify_ticket", result: "store_failed" },
    ]);
    // One log line per request, refused ones as warnings.
    const lines = rig.logs.lines.map((l) => JSON.parse(l) as { msg: string; level: number; result?: string }).filter((l) => l.result);
    expect(lines.map((l) => [l.msg, l.result])).toEqual([
      ["push refused", "not_found"],
      ["push refused", "method_not_allowed"],
      ["push refused", "malformed"],
      ["push handled", "stored"],
      ["push handled", "duplicate"],
      ["push refused", "store_failed"],
    ]);
    expectCleanLogs(rig, "store_failed");
  });
});

/**
 * The fake WeCom suites for tests: a suite's 指令回调URL (a loopback HTTP
 * server that verifies and decrypts pushes with src/openplatform, the
 * receiver id being the suite id, and keeps what arrived, raw and
 * decrypted), and a FakeWeChat with a third-party suite and a 代开发
 * template, each pushing to its own receiver.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { request } from "undici";
import { afterEach } from "vitest";
import { FakeClock } from "../../src/clock.js";
import { FakeWeChat, type FakeSuiteOptions, type FakeWeChatOptions } from "../../src/fake-wechat/index.js";
import type { PushCryptoError } from "../../src/platform/crypto.js";
import { openPush, pushQueryOf, type PushKeys } from "../../src/platform/push.js";

export interface ReceivedPush {
  query: URLSearchParams;
  body: string;
  fields: Record<string, string>;
}

export interface SuiteReceiver {
  url: string;
  pushes: ReceivedPush[];
  /** Error codes of the pushes refused (bad_signature, wrong_receiver, ...). */
  rejected: string[];
  /** Resolves with the next push that arrives. */
  next(): Promise<ReceivedPush>;
  close(): Promise<void>;
}

export async function suiteReceiver(keys: PushKeys): Promise<SuiteReceiver> {
  const pushes: ReceivedPush[] = [];
  const rejected: string[] = [];
  let waiters: Array<(p: ReceivedPush) => void> = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const query = new URL(req.url ?? "/", "http://x").searchParams;
      const body = Buffer.concat(chunks).toString("utf8");
      try {
        const push = { query, body, fields: openPush(keys, pushQueryOf(query), body) };
        pushes.push(push);
        for (const w of waiters) w(push);
        waiters = [];
        res.end("success");
      } catch (err) {
        rejected.push((err as PushCryptoError).code ?? (err as Error).name);
        res.statusCode = 400;
        res.end("bad push");
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/wecom/suite?from=fake`,
    pushes,
    rejected,
    next: () => new Promise((r) => waiters.push(r)),
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** A JSON call to the fake's WeCom host: POST with a body, GET without. */
export async function wecomCall(base: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
  const res = await request(`${base}${path}`, body === undefined ? { method: "GET" } : { method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json" } });
  if (res.statusCode !== 200) throw new Error(`${path}: HTTP ${res.statusCode}`);
  return (await res.body.json()) as Record<string, unknown>;
}

export const SUITE = "wwsuite00000000001";
export const DK = "dk0000000000000001";
export const SUITE_SECRET = "suite-secret-NEVER-LEAK";
export const CALLBACK_TOKEN = "callback-token-NEVER-LEAK";
export const AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
export const SERVICE = "/cgi-bin/service";

export interface SuiteSetup {
  clock: FakeClock;
  fake: FakeWeChat;
  /** The receivers of SUITE and of DK. */
  recv: SuiteReceiver;
  dkRecv: SuiteReceiver;
  /** A call to the WeCom host, with ?suite_access_token= when given. */
  call(path: string, body?: unknown, suiteToken?: string): Promise<Record<string, unknown>>;
  /** A suite token for the suite (pushing a ticket first if none works). */
  suiteToken(suiteId?: string): Promise<string>;
  close(): Promise<void>;
}

/** A started FakeWeChat with SUITE and DK (a 代开发 template), each pushing to its own receiver. */
export async function startSuites(o: { suite?: Partial<FakeSuiteOptions>; dk?: Partial<FakeSuiteOptions>; fake?: Partial<FakeWeChatOptions> } = {}): Promise<SuiteSetup> {
  const clock = new FakeClock();
  const recv = await suiteReceiver({ receiverId: SUITE, token: CALLBACK_TOKEN, encodingAesKey: AES_KEY });
  const dkRecv = await suiteReceiver({ receiverId: DK, token: CALLBACK_TOKEN, encodingAesKey: AES_KEY });
  const keys = { secret: SUITE_SECRET, token: CALLBACK_TOKEN, encodingAesKey: AES_KEY };
  const fake = new FakeWeChat({
    apps: {},
    clock,
    suites: [
      { suiteId: SUITE, ...keys, pushUrl: recv.url, ...o.suite },
      { suiteId: DK, ...keys, pushUrl: dkRecv.url, ...o.dk },
    ],
    ...o.fake,
  });
  await fake.start();
  const call = (path: string, body?: unknown, suiteToken?: string) =>
    wecomCall(fake.wecomUrl!, suiteToken === undefined ? path : `${path}?suite_access_token=${encodeURIComponent(suiteToken)}`, body);
  const suiteToken = async (id = SUITE) => {
    const suite = fake.suite(id);
    if (!suite.currentTicket()) await suite.pushTicket();
    return (await call(`${SERVICE}/get_suite_token`, { suite_id: id, suite_secret: SUITE_SECRET, suite_ticket: suite.currentTicket() }))["suite_access_token"] as string;
  };
  const close = async () => {
    await fake.close();
    await Promise.all([recv.close(), dkRecv.close()]);
  };
  return { clock, fake, recv, dkRecv, call, suiteToken, close };
}

/** A start function for this test file's tests: each test's fake and receivers are closed after it. */
export function suitesPerTest(): (o?: Parameters<typeof startSuites>[0]) => Promise<SuiteSetup> {
  let running: SuiteSetup | undefined;
  afterEach(async () => {
    await running?.close();
    running = undefined;
  });
  return async (o) => (running = await startSuites(o));
}

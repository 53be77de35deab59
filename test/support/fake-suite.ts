/**
 * The fake WeCom suites for tests: a FakeWeChat with a third-party suite and
 * a 代开发 template, each pushing to its own 指令回调URL (push-receiver.ts,
 * the receiver id being the suite id).
 */
import { request } from "undici";
import { afterEach } from "vitest";
import { FakeClock } from "../../src/clock.js";
import { FakeWeChat, type FakeSuiteOptions, type FakeWeChatOptions } from "../../src/fake-wechat/index.js";
import { pushReceiver, type PushReceiver } from "./push-receiver.js";

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
  recv: PushReceiver;
  dkRecv: PushReceiver;
  /** A call to the WeCom host, with ?suite_access_token= when given. */
  call(path: string, body?: unknown, suiteToken?: string): Promise<Record<string, unknown>>;
  /** A suite token for the suite (pushing a ticket first if none works). */
  suiteToken(suiteId?: string): Promise<string>;
  close(): Promise<void>;
}

/** A started FakeWeChat with SUITE and DK (a 代开发 template), each pushing to its own receiver. */
export async function startSuites(o: { suite?: Partial<FakeSuiteOptions>; dk?: Partial<FakeSuiteOptions>; fake?: Partial<FakeWeChatOptions> } = {}): Promise<SuiteSetup> {
  const clock = new FakeClock();
  const recv = await pushReceiver({ receiverId: SUITE, token: CALLBACK_TOKEN, encodingAesKey: AES_KEY });
  const dkRecv = await pushReceiver({ receiverId: DK, token: CALLBACK_TOKEN, encodingAesKey: AES_KEY });
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

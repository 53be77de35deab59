import { afterEach, describe, expect, it } from "vitest";
import { isStaleTokenError, TokenClient, TokenSource, WeChatClient, WeChatError, withToken } from "../../src/index.js";
import { APP, APP2, Harness } from "../support/harness.js";

const CALLBACK_IP = "/cgi-bin/getcallbackip";

interface IpList {
  ip_list: string[];
}

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Server + fake WeChat, a TokenSource and a TokenClient on it, and a WeChat client for the business calls. */
async function setup() {
  const h = await Harness.start();
  cleanups.push(() => h.stop());
  const source = await TokenSource.create({ address: `127.0.0.1:${h.port}`, appId: APP, clock: h.clock });
  cleanups.push(() => source.close());
  const client = new TokenClient(`127.0.0.1:${h.port}`);
  cleanups.push(() => client.close());
  const wechat = new WeChatClient({ baseUrl: h.fake.url });
  cleanups.push(() => wechat.close());
  const callbackIps = (token: string) => wechat.callApi<IpList>(CALLBACK_IP, token);
  return { h, source, client, callbackIps };
}

describe("withToken", () => {
  it("recovers from a token WeChat no longer accepts with exactly one ForceRefresh (TokenSource)", async () => {
    const { h, source, callbackIps } = await setup();
    const before = h.fake.successfulTokenCalls(APP);
    h.fake.invalidateTokens(APP);
    const retries: number[] = [];
    const answer = await withToken(source, APP, callbackIps, { onRetry: (err) => retries.push(err.errcode) });
    expect(answer.ip_list.length).toBeGreaterThan(0);
    expect(retries).toEqual([40001]);
    expect(h.fake.successfulTokenCalls(APP)).toBe(before + 1);
    expect(h.fake.calls(CALLBACK_IP)).toBe(2);
    // The source adopted the new token at once, without waiting for the stream.
    expect(source.current().version).toBe(2);
    expect(h.fake.isValid(APP, source.token())).toBe(true);
  });

  it("works the same through a TokenClient", async () => {
    const { h, client, callbackIps } = await setup();
    const before = h.fake.successfulTokenCalls(APP);
    h.fake.invalidateTokens(APP);
    const answer = await withToken(client, APP, callbackIps);
    expect(answer.ip_list.length).toBeGreaterThan(0);
    expect(h.fake.successfulTokenCalls(APP)).toBe(before + 1);
  });

  it("costs one upstream refresh for a whole storm of callers", async () => {
    const { h, source, callbackIps } = await setup();
    const before = h.fake.successfulTokenCalls(APP);
    h.fake.invalidateTokens(APP);
    const answers = await Promise.all(Array.from({ length: 20 }, () => source.withToken(callbackIps)));
    expect(answers.every((a) => a.ip_list.length > 0)).toBe(true);
    expect(h.fake.successfulTokenCalls(APP)).toBe(before + 1);
  });

  it("lets other WeChat errors pass through without a refresh", async () => {
    const { h, source, callbackIps } = await setup();
    const before = h.fake.successfulTokenCalls(APP);
    h.fake.inject({ path: CALLBACK_IP, errcode: 45009 });
    const err = await withToken(source, APP, callbackIps).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WeChatError);
    expect((err as WeChatError).errcode).toBe(45009);
    expect(h.fake.calls(CALLBACK_IP)).toBe(1);
    expect(h.fake.successfulTokenCalls(APP)).toBe(before);
    expect(source.current().version).toBe(1);
  });

  it("retries exactly once: a second rejection is final", async () => {
    const { h, source, callbackIps } = await setup();
    h.fake.inject({ path: CALLBACK_IP, errcode: 40001, times: 2 });
    const err = await source.withToken(callbackIps).catch((e: unknown) => e);
    expect((err as WeChatError).errcode).toBe(40001);
    expect(h.fake.calls(CALLBACK_IP)).toBe(2);
    expect(h.fake.successfulTokenCalls(APP)).toBe(2);
  });

  it("refuses a source that holds another app's token", async () => {
    const { source, callbackIps } = await setup();
    await expect(withToken(source, APP2, callbackIps)).rejects.toThrow(/holds app wx1111111111111111, not wx2222222222222222/);
  });

  it("recognises stale-token errors by errcode, also from other WeChat clients", () => {
    for (const errcode of [40001, 40014, 42001]) {
      expect(isStaleTokenError(new WeChatError(CALLBACK_IP, errcode, "x"))).toBe(true);
      expect(isStaleTokenError(Object.assign(new Error("sdk"), { errcode }))).toBe(true);
    }
    expect(isStaleTokenError(new WeChatError(CALLBACK_IP, 45009, "x"))).toBe(false);
    expect(isStaleTokenError(new Error("40001"))).toBe(false);
    expect(isStaleTokenError(undefined)).toBe(false);
  });
});

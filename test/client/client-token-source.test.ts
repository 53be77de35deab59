import { status } from "@grpc/grpc-js";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { Token } from "../../generated/wxtoken/v1/token_service.js";
import { FakeClock } from "../../src/clock.js";
import type { FakeWeChat } from "../../src/fake-wechat/index.js";
import {
  TokenClient,
  TokenExpiredError,
  TokenServiceError,
  TokenSource,
  TokenSourceClosedError,
  TokenSourceTimeoutError,
  type TokenSourceOptions,
} from "../../src/index.js";
import { silentLogger } from "../../src/log.js";
import { WxTokenServer } from "../../src/wxtoken.js";
import { WeChatClient } from "../../src/upstream/wechat-client.js";
import { APP, eventually, Harness, startFakeWeChat, tempDir } from "../support/harness.js";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function harness(opts: Parameters<typeof Harness.start>[0] = {}): Promise<Harness> {
  const h = await Harness.start(opts);
  cleanups.push(() => h.stop());
  return h;
}

/** A source on the harness's server and clock; jitter off so delays are exact. */
async function source(h: Harness, opts: Partial<TokenSourceOptions> = {}): Promise<TokenSource> {
  const s = await TokenSource.create({ address: `127.0.0.1:${h.port}`, appId: APP, clock: h.clock, random: () => 0.5, ...opts });
  cleanups.push(() => s.close());
  return s;
}

/** Resolves with what a promise rejects with; fails if it resolves. */
async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => expect.fail("expected a rejection"),
    (err: unknown) => err,
  );
}

describe("TokenSource", () => {
  it("resolves once the first token has arrived, and serves it from memory", async () => {
    const h = await harness();
    const s = await source(h);
    const served = (await h.getToken(APP)).token!;
    expect(s.token()).toBe(served.accessToken);
    expect(s.current()).toMatchObject({ appId: APP, version: 1, fingerprint: served.fingerprint });
    expect(h.server.tokens.watcherCount()).toBe(1);
  });

  it("follows rotations pushed by the server", async () => {
    const h = await harness();
    const s = await source(h);
    const updates: Token[] = [];
    s.onUpdate((t) => updates.push(t));
    const first = s.token();
    const rotated = (await h.forceRefresh(APP, first)).token!;
    await eventually(() => expect(s.current().version).toBe(2));
    expect(s.token()).toBe(rotated.accessToken);
    expect(updates.map((t) => t.version)).toEqual([2]);
  });

  it("times out with a clear error when the server cannot get a token", async () => {
    const h = await harness();
    h.fake.inject({ errcode: -1, times: Infinity });
    const creating = rejection(TokenSource.create({ address: `127.0.0.1:${h.port}`, appId: APP, timeoutMs: 5000, clock: h.clock }));
    await eventually(() => expect(h.server.tokens.watcherCount()).toBe(1));
    await h.clock.advance(4999);
    expect(h.server.tokens.watcherCount()).toBe(1);
    await h.clock.advance(1);
    const err = await creating;
    expect(err).toBeInstanceOf(TokenSourceTimeoutError);
    expect((err as Error).message).toMatch(new RegExp(`no token for app ${APP} within 5000 ms; the stream is open but the server has no token`));
    // Giving up closes the stream it opened.
    await eventually(() => expect(h.server.tokens.watcherCount()).toBe(0));
  });

  it("names the last error when it times out against a server that is down", async () => {
    const h = await Harness.start();
    await h.stop();
    const clock = new FakeClock();
    const creating = rejection(TokenSource.create({ address: `127.0.0.1:${h.port}`, appId: APP, timeoutMs: 5000, clock }));
    // The create timeout and, once the first attempt has failed, a reconnect timer.
    await eventually(() => expect(clock.pending()).toBe(2));
    await clock.advance(5000);
    const err = await creating;
    expect(err).toBeInstanceOf(TokenSourceTimeoutError);
    expect((err as TokenSourceTimeoutError).lastError).toBeInstanceOf(TokenServiceError);
    expect((err as Error).message).toMatch(/within 5000 ms; last error: WatchToken failed: UNAVAILABLE: /);
    expect(clock.pending()).toBe(0);
  });

  it("fails at once, without waiting out the timeout, for an app the server does not know", async () => {
    const h = await harness();
    const sourceClock = new FakeClock(h.clock.now());
    const creating = TokenSource.create({ address: `127.0.0.1:${h.port}`, appId: "wxunknown0000000", timeoutMs: 60_000, clock: sourceClock });
    const err = await rejection(creating);
    expect(err).toBeInstanceOf(TokenServiceError);
    expect((err as TokenServiceError).code).toBe(status.NOT_FOUND);
    expect((err as Error).message).toMatch(/^WatchToken failed: NOT_FOUND: /);
    // Neither the create timeout nor a reconnect timer is left behind.
    expect(sourceClock.pending()).toBe(0);
  });

  it("never returns an expired token: it throws until a new one arrives", async () => {
    const h = await harness();
    const s = await source(h);
    const { expiresAt } = s.current();
    h.fake.inject({ errcode: -1, times: Infinity });
    await h.clock.advance(expiresAt!.getTime() - h.clock.now() - 1);
    expect(s.current().version).toBe(1); // valid for one more millisecond
    await h.clock.advance(1);
    expect(() => s.token()).toThrow(TokenExpiredError);
    expect(() => s.current()).toThrow(/token v1 of app wx1111111111111111 expired at/);

    h.fake.clearFaults();
    await eventually(async () => {
      await h.clock.advance(60_000); // the server's retry comes due
      expect(s.current().version).toBe(2);
    });
  });

  it("reconnects by itself to a server restarted on the same port, with backoff reset by each message", async () => {
    const clock = new FakeClock();
    const fake = await startFakeWeChat(clock, cleanups);
    const storePath = join(tempDir(), "tokens.json");
    const first = await Harness.start({ clock, fake, storePath });
    cleanups.push(() => first.stop());
    const s = await source(first, {
      // grpc-js waits out its own (real-time) reconnect backoff too: keep it short.
      clientOptions: { channelOptions: { "grpc.initial_reconnect_backoff_ms": 20, "grpc.max_reconnect_backoff_ms": 50 } },
    });
    const errors: { code: status; retryInMs: number }[] = [];
    s.onError((err, retryInMs) => errors.push({ code: err.code, retryInMs }));

    await first.stop();
    await eventually(() => expect(errors).toHaveLength(1));
    await clock.advance(1000); // a reconnect while the server is down fails too
    await eventually(() => expect(errors).toHaveLength(2));
    expect(errors.map((e) => e.code)).toEqual([status.UNAVAILABLE, status.UNAVAILABLE]);
    expect(errors.map((e) => e.retryInMs)).toEqual([1000, 2000]);

    const second = await restartOnSamePort(first, clock, fake);
    cleanups.push(() => second.shutdown(500));
    const restarted = new TokenClient(`127.0.0.1:${first.port}`);
    cleanups.push(() => restarted.close());
    // The file store kept v1, so the source already has it: a rotation shows the stream is back.
    const rotated = await restarted.forceRefresh(APP, s.token());
    expect(rotated.token.version).toBe(2);
    await eventually(async () => {
      await clock.advance(errors.at(-1)!.retryInMs);
      expect(s.current().version).toBe(2);
    });
    expect(s.token()).toBe(rotated.token.accessToken);

    const before = errors.length;
    await second.shutdown(500);
    await eventually(() => expect(errors.length).toBe(before + 1));
    expect(errors.at(-1)!.retryInMs).toBe(1000);
  });

  it("follows a server restarted without its store, whose new token is numbered v1 again", async () => {
    const clock = new FakeClock();
    const fake = await startFakeWeChat(clock, cleanups);
    const first = await Harness.start({ clock, fake }); // memory store
    cleanups.push(() => first.stop());
    const s = await source(first, {
      clientOptions: { channelOptions: { "grpc.initial_reconnect_backoff_ms": 20, "grpc.max_reconnect_backoff_ms": 50 } },
    });
    const old = s.current();
    expect(old.version).toBe(1);
    const errors: number[] = [];
    s.onError((_err, retryInMs) => errors.push(retryInMs));
    await first.stop();
    await eventually(() => expect(errors).toHaveLength(1));

    // The new process fetches its own token, also v1, before the source is back.
    const second = await restartOnSamePort(first, clock, fake);
    cleanups.push(() => second.shutdown(500));
    const restarted = new TokenClient(`127.0.0.1:${first.port}`);
    cleanups.push(() => restarted.close());
    const fresh = await restarted.getToken(APP);
    expect(fresh.version).toBe(1);
    expect(fresh.accessToken).not.toBe(old.accessToken);

    await eventually(async () => {
      await clock.advance(errors.at(-1)!);
      expect(s.token()).toBe(fresh.accessToken);
    });
    // The old token is dead in five minutes; the source no longer hands it out.
    expect(fake.isValid(APP, s.token())).toBe(true);
  });

  it("close() ends the stream and any pending reconnect, and token() then throws", async () => {
    const h = await harness();
    const sourceClock = new FakeClock(h.clock.now());
    const s = await source(h, { clock: sourceClock });
    expect(h.server.tokens.watcherCount()).toBe(1);
    await s.close();
    await eventually(() => expect(h.server.tokens.watcherCount()).toBe(0));
    expect(sourceClock.pending()).toBe(0);
    expect(() => s.token()).toThrow(TokenSourceClosedError);

    // Closed while waiting to reconnect: the timer goes too.
    const waiting = await source(h, { clock: sourceClock });
    const retrying = new Promise((resolve) => waiting.onError(resolve));
    h.server.api.endWatches();
    await retrying;
    expect(sourceClock.pending()).toBe(1);
    await waiting.close();
    expect(sourceClock.pending()).toBe(0);
  });

  it("shares a client it was given and leaves it open", async () => {
    const h = await harness();
    const client = new TokenClient(`127.0.0.1:${h.port}`);
    cleanups.push(() => client.close());
    const s = await TokenSource.create({ client, appId: APP, clock: h.clock });
    await s.close();
    expect((await client.getToken(APP)).version).toBe(1);
    await expect(TokenSource.create({ client, address: "x:1", appId: APP })).rejects.toThrow(TypeError);
  });
});

/** A second server on the first one's port, sharing its config (file store), clock and fake WeChat. */
async function restartOnSamePort(first: Harness, clock: FakeClock, fake: FakeWeChat): Promise<WxTokenServer> {
  const upstream = new WeChatClient({ baseUrl: fake.url, timeoutMs: 2000 });
  const server = await WxTokenServer.create(first.loaded, { log: silentLogger, clock, upstream, random: () => 0 });
  await server.listen(`127.0.0.1:${first.port}`);
  return server;
}

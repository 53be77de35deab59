import { status } from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import type { Token, WatchTokenResponse } from "../../generated/wxtoken/v1/token_service.js";
import { tokensOf } from "../../packages/client/src/watch-stream.js";
import { TokenClient, TokenServiceError } from "../../src/index.js";
import { APP, eventually, Harness } from "../support/harness.js";

let h: Harness | undefined;
let client: TokenClient | undefined;
afterEach(async () => {
  client?.close();
  await h?.stop();
  h = client = undefined;
});

async function start(): Promise<{ h: Harness; client: TokenClient }> {
  h = await Harness.start();
  client = new TokenClient(`127.0.0.1:${h.port}`);
  return { h, client };
}

async function failure(p: Promise<unknown>): Promise<TokenServiceError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TokenServiceError);
  return err as TokenServiceError;
}

describe("TokenClient", () => {
  it("gets the server's current token", async () => {
    const { h, client } = await start();
    const token = await client.getToken(APP);
    expect(token.appId).toBe(APP);
    expect(token.version).toBe(1);
    expect(token.expiresAt).toBeInstanceOf(Date);
    expect(h.fake.isValid(APP, token.accessToken)).toBe(true);
    expect((await h.getToken(APP)).token?.accessToken).toBe(token.accessToken);
  });

  it("force-refreshes only a token that is still current", async () => {
    const { h, client } = await start();
    const first = await client.getToken(APP);
    const fresh = await client.forceRefresh(APP, first.accessToken);
    expect(fresh.refreshed).toBe(true);
    expect(fresh.token.version).toBe(2);
    expect(fresh.token.accessToken).not.toBe(first.accessToken);
    // Reporting the same stale token again costs no upstream call.
    const again = await client.forceRefresh(APP, first.accessToken);
    expect(again).toEqual({ token: fresh.token, refreshed: false });
    expect(h.fake.successfulTokenCalls(APP)).toBe(2);
  });

  it("watches: the current token at once, then each new one; breaking out ends the stream", async () => {
    const { h, client } = await start();
    const seen: Token[] = [];
    for await (const token of client.watch(APP)) {
      seen.push(token);
      if (seen.length === 1) await h.forceRefresh(APP, token.accessToken);
      if (seen.length === 2) break;
    }
    expect(seen.map((t) => t.version)).toEqual([1, 2]);
    await eventually(() => expect(h.server.tokens.watcherCount()).toBe(0));
  });

  it("watch skips versions up to knownVersion, and its signal ends it without an error", async () => {
    const { h, client } = await start();
    const current = await client.getToken(APP);
    const abort = new AbortController();
    const seen: number[] = [];
    const done = (async () => {
      for await (const token of client.watch(APP, { knownVersion: current.version, signal: abort.signal })) seen.push(token.version);
    })();
    await eventually(() => expect(h.server.tokens.watcherCount()).toBe(1));
    await h.forceRefresh(APP, current.accessToken);
    await eventually(() => expect(seen).toEqual([2]));
    abort.abort();
    await done;
    await eventually(() => expect(h.server.tokens.watcherCount()).toBe(0));
  });

  it("maps failures to TokenServiceError with the status code and details", async () => {
    const { client } = await start();
    const unknown = await failure(client.getToken("wxunknown0000000"));
    expect(unknown.code).toBe(status.NOT_FOUND);
    expect(unknown.codeName).toBe("NOT_FOUND");
    expect(unknown.method).toBe("GetToken");
    expect(unknown.message).toMatch(/^GetToken failed: NOT_FOUND: /);

    const malformed = await failure(client.getToken("not an app id!"));
    expect(malformed.code).toBe(status.INVALID_ARGUMENT);
    expect(malformed.details).toMatch(/app_id/);

    const noStale = await failure(client.forceRefresh(APP, ""));
    expect(noStale.code).toBe(status.INVALID_ARGUMENT);
    expect(noStale.details).toMatch(/stale_token is required/);

    const watch = await failure((async () => {
      for await (const _ of client.watch("wxunknown0000000")) throw new Error("no token expected");
    })());
    expect(watch.code).toBe(status.NOT_FOUND);
    expect(watch.method).toBe("WatchToken");
  });

  it("gives each call a deadline (client default, or per call)", async () => {
    h = await Harness.start();
    // The first GetToken waits for WeChat, which takes 3 s to answer.
    h.fake.inject({ delayMs: 3000 });
    client = new TokenClient(`127.0.0.1:${h.port}`, { timeoutMs: 200 });
    const started = Date.now();
    const err = await failure(client.getToken(APP));
    expect(err.code).toBe(status.DEADLINE_EXCEEDED);
    expect(Date.now() - started).toBeLessThan(2000);
    const patient = new TokenClient(`127.0.0.1:${h.port}`, { timeoutMs: 60_000 });
    const perCall = await failure(patient.getToken(APP, { timeoutMs: 100 }));
    patient.close();
    expect(perCall.code).toBe(status.DEADLINE_EXCEEDED);
  });

  it("rejects with the signal's reason when the caller aborts", async () => {
    h = await Harness.start();
    h.fake.inject({ delayMs: 3000 });
    client = new TokenClient(`127.0.0.1:${h.port}`);
    const abort = new AbortController();
    const call = client.getToken(APP, { signal: abort.signal });
    abort.abort(new Error("caller gave up"));
    await expect(call).rejects.toThrow("caller gave up");
  });
});

// The call starts when watch() is called: what the server answers before the
// first next() must be handled, and giving up before reading must still cancel it.
describe("a watch not yet read", () => {
  it("holds an error the server answered before the first next(), and throws it there", async () => {
    const { client } = await start();
    const call = client.raw.watchToken({ kind: 0, agent: "", platformId: "", appId: "wxunknown0000000", knownVersion: 0, knownFingerprint: "" });
    const tokens = tokensOf(call);
    // 'status' follows 'error': the error has been emitted, with nobody reading yet.
    await new Promise((resolve) => call.once("status", resolve));
    const err = await tokens.next().then(
      () => expect.fail("expected the watch to fail"),
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TokenServiceError);
    expect((err as TokenServiceError).code).toBe(status.NOT_FOUND);
    expect(await tokens.next()).toEqual({ done: true, value: undefined });
  });

  it("keeps what arrived before the first next(), the newest token only", async () => {
    const { h, client } = await start();
    const first = (await h.getToken(APP)).token!;
    const call = client.raw.watchToken({ kind: 0, agent: "", platformId: "", appId: APP, knownVersion: 0, knownFingerprint: "" });
    const tokens = tokensOf(call);
    const arrived: number[] = [];
    call.on("data", (m: WatchTokenResponse) => arrived.push(m.token!.version));
    await eventually(() => expect(arrived).toEqual([1]));
    await h.forceRefresh(APP, first.accessToken);
    await eventually(() => expect(arrived).toEqual([1, 2]));
    // Both came while nobody read: v2 replaced v1 (each token is the full state).
    expect((await tokens.next()).value).toMatchObject({ version: 2 });
    await tokens.return();
  });

  it("return() before the first next() cancels the call", async () => {
    const { h, client } = await start();
    const tokens = client.watch(APP);
    await eventually(() => expect(h.server.tokens.watcherCount()).toBe(1));
    expect(await tokens.return()).toEqual({ done: true, value: undefined });
    await eventually(() => expect(h.server.tokens.watcherCount()).toBe(0));
    expect(await tokens.next()).toEqual({ done: true, value: undefined });
  });

  it("aborting the signal before the first next() cancels the call, and iteration then ends quietly", async () => {
    const { h, client } = await start();
    const abort = new AbortController();
    const tokens = client.watch(APP, { signal: abort.signal });
    await eventually(() => expect(h.server.tokens.watcherCount()).toBe(1));
    abort.abort();
    await eventually(() => expect(h.server.tokens.watcherCount()).toBe(0));
    expect(await tokens.next()).toEqual({ done: true, value: undefined });
  });

  it("tells onOpen when the server has accepted the subscription, before any token", async () => {
    const { h, client } = await start();
    const current = await client.getToken(APP);
    let opened = 0;
    const tokens = client.watch(APP, { knownVersion: current.version, knownFingerprint: current.fingerprint, onOpen: () => opened++ });
    // Nothing to send (the client holds the current token), yet the stream reports itself open.
    await eventually(() => expect(opened).toBe(1));
    expect(h.server.tokens.watcherCount()).toBe(1);
    await tokens.return();
  });
});

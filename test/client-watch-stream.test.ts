/**
 * A watch before anyone reads it: the call starts when watch() is called, so
 * what the server answers before the first next() must be handled, and giving
 * up before reading must still cancel the call.
 */
import { status } from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import type { WatchTokenResponse } from "../generated/wxtoken/v1/token_service.js";
import { TokenClient, TokenServiceError } from "../src/index.js";
import { tokensOf } from "../src/client/watch-stream.js";
import { APP, eventually, Harness } from "./support/harness.js";

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

describe("a watch not yet read", () => {
  it("holds an error the server answered before the first next(), and throws it there", async () => {
    const { client } = await start();
    const call = client.raw.watchToken({ appId: "wxunknown0000000", knownVersion: 0, knownFingerprint: "" });
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
    const call = client.raw.watchToken({ appId: APP, knownVersion: 0, knownFingerprint: "" });
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

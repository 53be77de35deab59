import { status } from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { APP, collect, eventually, Harness } from "../support/harness.js";

let h: Harness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

describe("WatchToken", () => {
  it("sends the current token at once, then each new token", async () => {
    h = await Harness.start();
    const current = (await h.getToken(APP)).token!;
    const { messages } = collect(h.client.watchToken({ kind: 0, agent: "", platformId: "", appId: APP, knownVersion: 0, knownFingerprint: "" }));
    await eventually(() => expect(messages).toHaveLength(1));
    expect(messages[0]?.token?.accessToken).toBe(current.accessToken);
    await h.forceRefresh(APP, current.accessToken);
    await eventually(() => expect(messages).toHaveLength(2));
    expect(messages[1]?.token?.version).toBe(2);
  });

  it("skips what the client already has (known_version)", async () => {
    h = await Harness.start();
    const current = (await h.getToken(APP)).token!;
    const { messages } = collect(h.client.watchToken({ kind: 0, agent: "", platformId: "", appId: APP, knownVersion: current.version, knownFingerprint: "" }));
    await new Promise((r) => setTimeout(r, 100));
    expect(messages).toHaveLength(0);
    await h.forceRefresh(APP, current.accessToken);
    await eventually(() => expect(messages.map((m) => m.token?.version)).toEqual([2]));
  });

  it("sends the current token to a client whose known_version this server never reached (a restarted lineage)", async () => {
    h = await Harness.start();
    const current = (await h.getToken(APP)).token!;
    const { messages } = collect(h.client.watchToken({ kind: 0, agent: "", platformId: "", appId: APP, knownVersion: 99, knownFingerprint: "" }));
    await eventually(() => expect(messages.map((m) => m.token?.accessToken)).toEqual([current.accessToken]));
  });

  it("sends its token at known_version when known_fingerprint says the client holds another one (a server restarted without its store)", async () => {
    h = await Harness.start();
    const current = (await h.getToken(APP)).token!;
    const same = collect(h.client.watchToken({ kind: 0, agent: "", platformId: "", appId: APP, knownVersion: current.version, knownFingerprint: current.fingerprint }));
    const other = collect(h.client.watchToken({ kind: 0, agent: "", platformId: "", appId: APP, knownVersion: current.version, knownFingerprint: "0badf00d" }));
    await eventually(() => expect(other.messages.map((m) => m.token?.accessToken)).toEqual([current.accessToken]));
    // Both streams were set up before the first one's message was written: the matching one got nothing.
    expect(same.messages).toHaveLength(0);
    await h.forceRefresh(APP, current.accessToken);
    await eventually(() => expect(same.messages.map((m) => m.token?.version)).toEqual([2]));
  });

  it("stays open while no token can be had, and delivers as soon as one exists", async () => {
    h = await Harness.start();
    h.fake.inject({ errcode: -1, times: 2 });
    const { messages, ended } = collect(h.client.watchToken({ kind: 0, agent: "", platformId: "", appId: APP, knownVersion: 0, knownFingerprint: "" }));
    let done = false;
    void ended.then(() => (done = true));
    // Wait until the refresher has recorded the failure (and so scheduled its retry).
    await eventually(() => expect(h!.server.credential(APP).lastError()).toBeDefined());
    expect(messages).toHaveLength(0);
    await h.clock.advance(10_000);
    await eventually(() => expect(messages).toHaveLength(1));
    expect(done).toBe(false);
  });

  it("ends with NOT_FOUND for an unknown app and INVALID_ARGUMENT for a malformed one", async () => {
    h = await Harness.start();
    const unknown = await collect(h.client.watchToken({ kind: 0, agent: "", platformId: "", appId: "wxunknown", knownVersion: 0, knownFingerprint: "" })).ended;
    expect(unknown?.code).toBe(status.NOT_FOUND);
    const bad = await collect(h.client.watchToken({ kind: 0, agent: "", platformId: "", appId: "", knownVersion: 0, knownFingerprint: "" })).ended;
    expect(bad?.code).toBe(status.INVALID_ARGUMENT);
  });

  it("ends open streams with UNAVAILABLE when the server shuts down", async () => {
    h = await Harness.start();
    await h.getToken(APP);
    const watches = Array.from({ length: 5 }, () => collect(h!.client.watchToken({ kind: 0, agent: "", platformId: "", appId: APP, knownVersion: 0, knownFingerprint: "" })));
    await eventually(() => expect(h!.server.tokens.watcherCount()).toBe(5));
    const stopping = h.server.shutdown(2000);
    const results = await Promise.all(watches.map((w) => w.ended));
    for (const err of results) expect(err?.code).toBe(status.UNAVAILABLE);
    await stopping;
    // Ending the watches let the server close without being forced.
    expect(h.logs.text()).not.toMatch(/grace period over/);
  });
});

/** What happens to refreshes in flight when the server stops or an app is removed. */
import { status } from "@grpc/grpc-js";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { FakeClock } from "../../src/clock.js";
import { parseConfig } from "../../src/config/load.js";
import { APP, APP2, eventually, grpcError, Harness, SECRETS, startFakeWeChat, tempDir } from "../support/harness.js";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe("a refresh in flight", () => {
  it("lands in the store when the server shuts down while WeChat is answering", async () => {
    const clock = new FakeClock();
    const fake = await startFakeWeChat(clock, cleanups);
    const storePath = join(tempDir(), "tokens.json");
    const first = await Harness.start({ clock, fake, storePath });
    const old = (await first.getToken(APP)).token!;
    // The scheduled refresh goes out and WeChat is slow to answer.
    fake.inject({ delayMs: 300 });
    await clock.advance(old.refreshAt!.getTime() - clock.now());
    await eventually(() => expect(fake.calls("/cgi-bin/token", APP)).toBe(2));
    await first.stop();
    // WeChat issued a new token (the old one now dies in 5 minutes): it was kept.
    expect(fake.successfulTokenCalls(APP)).toBe(2);
    const saved = JSON.parse(readFileSync(storePath, "utf8")) as unknown;
    expect(JSON.stringify(saved)).not.toContain(old.accessToken);

    const second = await Harness.start({ clock, fake, storePath });
    cleanups.push(() => second.stop());
    const after = (await second.getToken(APP)).token!;
    expect(after.version).toBe(2);
    expect(fake.isValid(APP, after.accessToken)).toBe(true);
    expect(fake.successfulTokenCalls(APP)).toBe(2);
  });

  it("answers NOT_FOUND to callers waiting on it when a reload removes the app", async () => {
    const h = await Harness.start();
    cleanups.push(() => h.stop());
    h.fake.inject({ appId: APP2, delayMs: 400 });
    const waiting = grpcError(h.getToken(APP2));
    await eventually(() => expect(h.fake.calls("/cgi-bin/token", APP2)).toBe(1));
    h.server.reload(
      parseConfig({ listen: "127.0.0.1:0", store: { type: "memory" }, apps: [{ appId: APP, secret: SECRETS[APP]! }], shutdownGraceMs: 2000 }),
    );
    const err = await waiting;
    // Whether the waiting call saw the refresh land or not, it must not be served a removed app's token.
    expect(err.code).toBe(status.NOT_FOUND);
    expect(err.details).toContain(APP2);
    expect((await h.getToken(APP)).token?.appId).toBe(APP);
  });
});

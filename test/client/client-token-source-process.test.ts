/**
 * TokenSource against a server that is a separate process and dies the hard
 * way (SIGKILL: no drain, no UNAVAILABLE status, just a dropped connection),
 * then comes back on the same port with its file store.
 */
import { status } from "@grpc/grpc-js";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { FakeClock } from "../../src/clock.js";
import { FakeWeChat } from "../../src/fake-wechat/index.js";
import { TokenClient, TokenSource } from "../../src/index.js";
import { freePort, useCli } from "../support/cli.js";
import { APP, eventually, tempDir } from "../support/harness.js";

const SECRET = "process-restart-secret-0123456789";

const fixture = useCli();

describe("TokenSource and a server process", () => {
  it("reports a SIGKILLed server, reconnects to its restart on the same port, and follows the rotation it then makes", async () => {
    // The server process runs on real time, so the fake WeChat does too.
    const fake = new FakeWeChat({ apps: { [APP]: SECRET } });
    await fake.start();
    fixture.defer(() => fake.close());
    const dir = tempDir();
    const port = await freePort();
    const config = {
      listen: `127.0.0.1:${port}`,
      upstream: { baseUrl: fake.url },
      store: { type: "file", path: join(dir, "tokens.json") },
      apps: [{ appId: APP, secretEnv: "WX_SECRET" }],
    };
    const env = { WX_SECRET: SECRET };
    const first = await fixture.cli.serve(config, { env, dir });

    // Reconnect delays on a fake clock (started at real time: expiry checks compare with real timestamps).
    const clock = new FakeClock(Date.now());
    const source = await TokenSource.create({
      address: `127.0.0.1:${port}`,
      appId: APP,
      clock,
      random: () => 0.5,
      backoff: { initialMs: 100, maxMs: 400 },
      // grpc-js waits out its own (real-time) reconnect backoff too: keep it short.
      clientOptions: { channelOptions: { "grpc.initial_reconnect_backoff_ms": 20, "grpc.max_reconnect_backoff_ms": 50 } },
    });
    fixture.defer(() => source.close());
    const held = source.current();
    const errors: { code: status; retryInMs: number }[] = [];
    source.onError((err, retryInMs) => errors.push({ code: err.code, retryInMs }));

    // The store has the token before the kill, so the restart resumes this lineage rather than start a new one.
    await eventually(() => expect(readFileSync(join(dir, "tokens.json"), "utf8")).toContain(held.accessToken));
    first.child.kill("SIGKILL");
    expect(await first.exited).toBe(null);
    await eventually(() => expect(errors).toHaveLength(1));
    expect(errors[0]).toEqual({ code: status.UNAVAILABLE, retryInMs: 100 });
    // Down, the source still serves what it holds.
    expect(source.token()).toBe(held.accessToken);

    await fixture.cli.serve(config, { env, dir });
    // Rotate through the restarted server; the source must bring the new token in by itself.
    const restarted = new TokenClient(`127.0.0.1:${port}`);
    fixture.defer(() => restarted.close());
    const rotated = await restarted.forceRefresh(APP, held.accessToken);
    expect(rotated).toMatchObject({ refreshed: true, token: { version: held.version + 1 } });
    await eventually(async () => {
      await clock.advance(errors.at(-1)!.retryInMs); // due reconnects (one may still find the port closed)
      expect(source.token()).toBe(rotated.token.accessToken);
    });
    expect(errors.every((e) => e.code === status.UNAVAILABLE)).toBe(true);
  }, 30_000);
});

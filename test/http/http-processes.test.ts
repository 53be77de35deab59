/**
 * Real processes: `wxtoken serve` with both listeners, an SSE subscriber
 * (curl -N) and a WatchToken subscriber (`wxtoken watch`). A rotation reaches
 * both at once: the event stream is not a poll, and neither waits for a
 * keepalive (set to five minutes here, far beyond the wait below).
 */
import { describe, expect, it } from "vitest";
import { FakeWeChat } from "../../src/fake-wechat/index.js";
import { freePort, useCli } from "../support/cli.js";
import { eventually } from "../support/harness.js";

const APP = "wx1111111111111111";
const fixture = useCli();

describe("an SSE subscriber and a WatchToken subscriber, as processes", () => {
  it("both get the current token at once and the rotation as soon as it happens", { timeout: 60_000 }, async () => {
    const fake = new FakeWeChat({ apps: { [APP]: "secret-one" } });
    await fake.start();
    fixture.defer(() => fake.close());
    const [grpcPort, httpPort] = [await freePort(), await freePort()];
    await fixture.cli.serve(
      {
        listen: `127.0.0.1:${grpcPort}`,
        http: { listen: `127.0.0.1:${httpPort}`, keepaliveSeconds: 300 },
        upstream: { baseUrl: fake.url },
        store: { type: "memory" },
        apps: [{ appId: APP, secretEnv: "WX_SECRET" }],
      },
      { env: { WX_SECRET: "secret-one" } },
    );
    const sse = fixture.cli.spawnShell(`curl -sN http://127.0.0.1:${httpPort}/v1/apps/${APP}/token:watch`);
    const grpc = fixture.cli.start(["watch", APP, "--addr", `127.0.0.1:${grpcPort}`]);
    const sseVersions = () => [...sse.stdout().matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
    const grpcTokens = () => grpc.stdout().split("\n").filter(Boolean).map((l) => (JSON.parse(l) as { token: { version: string; accessToken: string } }).token);
    await eventually(() => {
      expect(sseVersions()).toEqual([1]);
      expect(grpcTokens().map((t) => t.version)).toEqual(["1"]);
    }, 10_000);

    const stale = grpcTokens()[0]!.accessToken;
    const refreshed = await fixture.cli.run(["refresh", APP, "--stale", stale, "--addr", `127.0.0.1:${grpcPort}`]);
    expect(refreshed.code).toBe(0);
    await eventually(() => {
      expect(sseVersions()).toEqual([1, 2]);
      expect(grpcTokens().map((t) => t.version)).toEqual(["1", "2"]);
    }, 5_000);
    const sseToken = JSON.parse(/data: (.*)$/m.exec(sse.stdout().split("id: 2\n")[1]!)![1]!).token.accessToken as string;
    expect(sseToken).toBe(grpcTokens()[1]!.accessToken);
  });
});

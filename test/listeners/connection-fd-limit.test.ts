/**
 * The connection caps against a real file descriptor limit: `wxtoken serve`
 * in its own process under `ulimit -n 400`, and more idle connections on each
 * of its four ports than the whole limit. Before the caps, any one port's
 * flood took every descriptor: every listener refused new callers and a push
 * got 503 (EMFILE writing the store). Now the caps are scaled down to fit the
 * limit less the reserve (with a warning that says so), and a full listener
 * makes room for each new caller: the client gets its tokens, the push is
 * written to the file store.
 */
import { credentials, Metadata } from "@grpc/grpc-js";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { writeFileSync } from "node:fs";
import { request } from "undici";
import { afterEach, describe, expect, inject, it } from "vitest";
import { TokenServiceClient, type GetTokenResponse } from "../../generated/wxtoken/v1/token_service.js";
import { hashApiKey } from "../../src/auth/api-key.js";
import { clientOptions } from "../../packages/client/src/client-credentials.js";
import { FakeWeChat } from "../../src/fake-wechat/index.js";
import { IdleFlood } from "../support/flood.js";
import { eventually, freePort, tempDir } from "../support/harness.js";
import { AES_KEY, COMPONENT, COMPONENT_SECRET, componentOptions, MESSAGE_TOKEN, PUSH_PATH } from "../support/platform.js";

const APP = "wx1111111111111111";
const KEY = "wxt_fd-limit-test-key-0123456789abcdefghijkl";
const FD_LIMIT = 400;
/** More than the server's whole descriptor limit, on each port. */
const FLOOD = 500;

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function getToken(port: number): Promise<GetTokenResponse> {
  const client = new TokenServiceClient(`127.0.0.1:${port}`, credentials.createInsecure(), clientOptions({ apiKey: KEY }));
  cleanups.push(() => client.close());
  return new Promise((resolve, reject) =>
    client.getToken({ kind: 0, agent: "", platformId: "", appId: APP }, new Metadata(), { deadline: Date.now() + 5000 }, (err, res) => (err ? reject(err) : resolve(res))),
  );
}

describe("idle connections beyond the descriptor limit on every port", () => {
  it("leave the client its tokens and the store its writes", { timeout: 60_000 }, async () => {
    const fake = new FakeWeChat({ apps: { [APP]: "secret-one" }, component: componentOptions() });
    await fake.start();
    cleanups.push(() => fake.close());
    const ports = { grpc: await freePort(), http: await freePort(), receiver: await freePort(), metrics: await freePort() };
    const dir = tempDir();
    const config = join(dir, "wxtoken.json");
    writeFileSync(
      config,
      JSON.stringify({
        listen: `127.0.0.1:${ports.grpc}`,
        http: { listen: `127.0.0.1:${ports.http}` },
        metrics: { listen: `127.0.0.1:${ports.metrics}` },
        upstream: { baseUrl: fake.url },
        store: { type: "file", path: "tokens.json" },
        apps: [{ appId: APP, secretEnv: "WX_SECRET" }],
        openPlatform: {
          receiver: { listen: `127.0.0.1:${ports.receiver}` },
          platforms: [{ componentAppId: COMPONENT, secretEnv: "COMPONENT_SECRET", messageTokenEnv: "MESSAGE_TOKEN", encodingAesKeyEnv: "AES_KEY" }],
        },
        auth: { clients: [{ name: "svc", apiKeySha256: hashApiKey(KEY), read: ["*"] }] },
        connections: { reservedDescriptors: 100 },
      }),
    );
    // ulimit in the shell, then exec: the server runs under the limit (soft and hard, so Node cannot raise it).
    const child = spawn("sh", ["-c", `ulimit -n ${FD_LIMIT} && exec "$0" "$@"`, process.execPath, inject("build").cli, "serve", "--config", config], {
      env: { ...process.env, WX_SECRET: "secret-one", COMPONENT_SECRET, MESSAGE_TOKEN, AES_KEY },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    cleanups.push(() => void child.kill("SIGKILL"));
    await eventually(() => expect(stderr).toMatch(/wxtoken listening/), 10_000);
    const warning = stderr.split("\n").find((l) => l.includes("exceed the file descriptor limit"));
    expect(JSON.parse(warning!)).toMatchObject({ level: 40, descriptorLimit: FD_LIMIT, reservedDescriptors: 100 });
    fake.component.pushUrl = `http://127.0.0.1:${ports.receiver}${PUSH_PATH}`;

    for (const port of Object.values(ports)) {
      const flood = await IdleFlood.open(port, FLOOD);
      cleanups.push(() => flood.destroy());
    }

    expect((await getToken(ports.grpc)).token!.appId).toBe(APP);
    const res = await request(`http://127.0.0.1:${ports.http}/v1/apps/${APP}/token`, { headers: { authorization: `Bearer ${KEY}` }, reset: true });
    expect(res.statusCode).toBe(200);
    expect(((await res.body.json()) as { token: { appId: string } }).token.appId).toBe(APP);
    // "success" only once the ticket is written to the file store.
    expect(await fake.component.pushTicket()).toMatchObject({ status: 200, body: "success" });
    const scrape = await request(`http://127.0.0.1:${ports.metrics}/metrics`, { reset: true });
    expect(scrape.statusCode).toBe(200);
    await scrape.body.text();
    expect(stderr).not.toMatch(/EMFILE/);
  });
});

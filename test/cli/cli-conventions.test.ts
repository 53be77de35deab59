/**
 * The command line as people expect it, in real processes against a real
 * server: --version, per-command --help and flags, check-config, exit codes
 * by status with --json errors, and a clear message for a port in use.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { hashApiKey } from "../../src/auth/api-key.js";
import { FakeWeChat } from "../../src/fake-wechat/index.js";
import { freePort, useCli } from "../support/cli.js";
import { APP, tempDir } from "../support/harness.js";

const SECRET = "cli-conventions-secret-NEVER-PRINTED";
const fixture = useCli();

async function fakeWeChat(): Promise<FakeWeChat> {
  const fake = new FakeWeChat({ apps: { [APP]: SECRET } });
  await fake.start();
  fixture.defer(() => fake.close());
  return fake;
}

/** A port some other program holds. */
async function heldPort(): Promise<number> {
  const holder: Server = createServer();
  await new Promise<void>((resolve) => holder.listen(0, "127.0.0.1", resolve));
  fixture.defer(() => new Promise((resolve) => holder.close(resolve)));
  return (holder.address() as { port: number }).port;
}

function configFile(body: object): string {
  const path = join(tempDir(), "wxtoken.json");
  writeFileSync(path, JSON.stringify(body));
  return path;
}

describe("--version and --help", () => {
  it("--version prints the package's version", async () => {
    const { version } = JSON.parse(readFileSync("package.json", "utf8")) as { version: string };
    for (const flag of ["--version", "-V"]) expect(await fixture.cli.run([flag])).toEqual({ code: 0, stdout: `wxtoken ${version}\n`, stderr: "" });
  });

  it("a bare wxtoken is a usage error (the usage on stderr, exit 2); help, --help and -h print it on stdout and exit 0", async () => {
    const bare = await fixture.cli.run([]);
    expect([bare.code, bare.stdout]).toEqual([2, ""]);
    expect(bare.stderr).toMatch(/^error: a command is needed\n\nwxtoken: a central access_token server for WeChat\n/);
    for (const help of ["help", "--help", "-h"]) {
      const asked = await fixture.cli.run([help]);
      expect([help, asked.code, asked.stderr, asked.stdout]).toEqual([help, 0, "", bare.stderr.replace("error: a command is needed\n\n", "")]);
    }
  });

  it.each([["get"], ["serve"], ["check-config"], ["callback-ip"], ["platform"]])("%s --help prints that command's usage only", async (command) => {
    const result = await fixture.cli.run([command, "--help"]);
    expect(result).toMatchObject({ code: 0, stderr: "" });
    expect(result.stdout).toMatch(new RegExp(`^Usage:\\n  wxtoken ${command} `));
    const others = ["wxtoken get ", "wxtoken serve ", "wxtoken check-config ", "wxtoken callback-ip ", "wxtoken platform "].filter((u) => u !== `wxtoken ${command} `);
    for (const other of others) expect(result.stdout).not.toContain(other);
  });
});

describe("flags of another command", () => {
  it.each([
    [["get", APP, "--pidfile", "x"], "get", "--pidfile"],
    [["get", APP, "--sync"], "get", "--sync"],
    [["serve", "--config", "x.json", "--addr", "127.0.0.1:1"], "serve", "--addr"],
    [["retry", "--pid", "123", "--kind", "jsapi"], "retry", "--kind"],
    [["platform", "wxc", "--stale", "t"], "platform", "--stale"],
    [["check-config", "x.json", "--timeout", "5"], "check-config", "--timeout"],
    [["watch", APP, "--wechat", "http://x"], "watch", "--wechat"],
  ])("%j is a usage error (exit 2) naming the flag", async (args, command, flag) => {
    const result = await fixture.cli.run(args);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`error: ${command} does not take ${flag}`);
    expect(result.stderr).toContain(`Usage:\n  wxtoken ${command} `);
  });
});

describe("usage errors with --json", () => {
  it.each([
    [["get", APP, "--kind", "nope", "--json"], /^--kind must be one of token, jsapi, wx_card, agent_config .*got "nope"$/],
    [["get", APP, "--json", "--pidfile", "x"], /^get does not take --pidfile/],
    [["get", "--json"], /^get needs an APP argument$/],
    [["status", "--json", "--state", "broken"], /^--state must be one of ok \(CREDENTIAL_STATE_OK, 1\), .*got "broken"$/],
    [["get", APP, "--json", "--timeout", "10s"], /^--timeout must be a positive number of milliseconds, got "10s"$/],
  ])("%j prints one JSON object on stderr, with the keys of the other --json errors, and exits 2", async (args, message) => {
    const result = await fixture.cli.run(args);
    expect([result.code, result.stdout]).toEqual([2, ""]);
    expect(result.stderr.endsWith("\n") && result.stderr.trim().split("\n")).toHaveLength(1);
    const json = JSON.parse(result.stderr) as Record<string, unknown>;
    expect(Object.keys(json).sort()).toEqual(["code", "exit_code", "grpc_code", "message", "metadata", "reason", "retry_delay_ms"]);
    expect(json).toMatchObject({ code: null, grpc_code: null, reason: "USAGE", retry_delay_ms: null, metadata: {}, exit_code: 2 });
    expect(json.message).toMatch(message);
  });
});

describe("wxtoken check-config", () => {
  it("exits 0 for a valid file and prints what it would serve, without a secret", async () => {
    const path = configFile({
      listen: "127.0.0.1:50999",
      http: { listen: "127.0.0.1:8099" },
      store: { type: "sqlite", path: "tokens.db" },
      auth: { clients: [{ name: "orders", apiKeySha256: hashApiKey("k"), read: ["*"] }] },
      apps: [{ appId: APP, secretEnv: "WX_SECRET", tickets: ["jsapi"] }],
    });
    const result = await fixture.cli.run(["check-config", path], { env: { WX_SECRET: SECRET } });
    expect(result).toMatchObject({ code: 0, stderr: "" });
    expect(JSON.parse(result.stdout)).toEqual({
      valid: true,
      apps: [{ appId: APP, type: "official", kinds: ["access_token", "jsapi_ticket"] }],
      platforms: [],
      store: { type: "sqlite", path: join(path, "..", "tokens.db") },
      listeners: { listen: "127.0.0.1:50999", "http.listen": "127.0.0.1:8099" },
      tls: "off",
      clients: ["orders"],
    });
    expect(result.stdout).not.toContain(SECRET);
  });

  it.each([
    [{ apps: [{ appId: APP, secretEnv: "WX_SECRET" }], refrsh: {} }, /config error at \(root\): .*"refrsh"/],
    [{ apps: [{ appId: APP, secretEnv: "WX_CHECK_UNSET" }] }, /apps\[0\]\.secretEnv/],
    [{ listen: "0.0.0.0:50051", apps: [{ appId: APP, secretEnv: "WX_SECRET" }] }, /config error at insecure/],
  ])("exits 78 naming the key for %j", async (body, message) => {
    const result = await fixture.cli.run(["check-config", configFile(body)], { env: { WX_SECRET: SECRET } });
    expect(result).toMatchObject({ code: 78, stdout: "" });
    expect(result.stderr).toMatch(message);
  });
});

describe("exit codes and --json errors by status", () => {
  it("77 for NOT_FOUND and PERMISSION_DENIED, 75 for RESOURCE_EXHAUSTED, 69 for UNAVAILABLE, 1 for the rest", { timeout: 30_000 }, async () => {
    const fake = await fakeWeChat();
    const port = await freePort();
    const key = "wxt_cli_conventions_key";
    const quotaApp = "wxquota000000001";
    const busyApp = "wxbusy0000000001";
    fake.inject({ appId: quotaApp, errcode: 45009, times: Infinity });
    fake.inject({ appId: busyApp, errcode: -1, times: Infinity });
    await fixture.cli.serve(
      {
        listen: `127.0.0.1:${port}`,
        upstream: { baseUrl: fake.url },
        store: { type: "memory" },
        auth: { clients: [{ name: "svc", apiKeySha256: hashApiKey(key), read: ["*"], refresh: [] }] },
        apps: [quotaApp, busyApp, APP].map((appId) => ({ appId, secretEnv: "WX_SECRET" })),
      },
      { env: { WX_SECRET: SECRET } },
    );
    const call = (...args: string[]) => fixture.cli.run([...args, "--addr", `127.0.0.1:${port}`, "--api-key", key]);

    const missing = await call("get", "wxnope", "--json");
    expect(missing.code).toBe(77);
    expect(JSON.parse(missing.stderr)).toMatchObject({ code: "NOT_FOUND", grpc_code: 5, reason: expect.any(String), message: expect.stringContaining("wxnope"), exit_code: 77 });

    const denied = await call("refresh", APP, "--stale", "x");
    expect(denied.code).toBe(77);
    expect(denied.stderr).toMatch(/PERMISSION_DENIED/);

    const quota = await call("get", quotaApp, "--json");
    expect(quota.code).toBe(75);
    const quotaJson = JSON.parse(quota.stderr) as Record<string, unknown>;
    expect(quotaJson).toMatchObject({ code: "RESOURCE_EXHAUSTED", reason: expect.any(String), retry_delay_ms: expect.any(Number), exit_code: 75 });
    expect(quotaJson.retry_delay_ms as number).toBeGreaterThan(0);

    const busy = await call("get", busyApp, "--json");
    expect(busy.code).toBe(69);
    expect(JSON.parse(busy.stderr)).toMatchObject({ code: "UNAVAILABLE", reason: expect.any(String), exit_code: 69 });

    const unauthenticated = await fixture.cli.run(["get", APP, "--addr", `127.0.0.1:${port}`]);
    expect(unauthenticated.code).toBe(1);
    expect(unauthenticated.stderr).toMatch(/^error: GetToken failed: UNAUTHENTICATED/);
    expect(missing.stderr + quota.stderr + busy.stderr).not.toContain(SECRET);
  });
});

describe("wxtoken serve on a port in use", () => {
  it("says which address is taken and which key sets it, for the gRPC and the HTTP listener, and exits 71 (EX_OSERR)", async () => {
    const held = await heldPort();
    const apps = [{ appId: APP, secretEnv: "WX_SECRET" }];
    const env = { WX_SECRET: SECRET };
    const grpc = await fixture.cli.run(["serve", "--config", configFile({ listen: `127.0.0.1:${held}`, store: { type: "memory" }, apps })], { env });
    // EX_OSERR, distinct from 1 (any other failure) and 69 (a server that cannot answer).
    expect(grpc.code).toBe(71);
    // The clear message is the only error output: not grpc-js's "No address added" before it, nor a log line.
    expect(grpc.stderr).toBe(`error: address 127.0.0.1:${held} is already in use; it is listen (the gRPC listener): stop what holds it, or change listen\n`);
    expect(grpc.stderr).not.toContain("No address added");

    const flag = await fixture.cli.run(["serve", "--config", configFile({ store: { type: "memory" }, apps }), "--listen", `127.0.0.1:${held}`], { env });
    expect(flag.code).toBe(71);
    expect(flag.stderr).toContain(`it is --listen (the gRPC listener)`);
    expect(flag.stderr).not.toContain("No address added");

    const http = await fixture.cli.run(["serve", "--config", configFile({ listen: "127.0.0.1:0", http: { listen: `127.0.0.1:${held}` }, store: { type: "memory" }, apps })], { env });
    expect(http.code).toBe(71);
    expect(http.stderr).toBe(`error: address 127.0.0.1:${held} is already in use; it is http.listen: stop what holds it, or change http.listen\n`);
  });
});

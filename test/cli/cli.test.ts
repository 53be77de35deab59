/**
 * The real command line, as a user runs it: `node dist/src/cli/main.js ...`
 * in its own process, from a fresh build (see support/cli.ts).
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { FakeWeChat } from "../../src/fake-wechat/index.js";
import { freePort, printed, useCli } from "../support/cli.js";
import { eventually, tempDir } from "../support/harness.js";

const BUF = join(process.cwd(), "node_modules/.bin/buf");
const SECRET = "cli-secret-NEVER-LOGGED-123";
const run = promisify(execFile);

const fixture = useCli();

async function fakeWeChat(): Promise<FakeWeChat> {
  const fake = new FakeWeChat({ apps: { wxcli000000000001: SECRET } });
  await fake.start();
  fixture.defer(() => fake.close());
  return fake;
}

describe("wxtoken serve", () => {
  it("serves tokens, exits promptly on SIGTERM with the store flushed, and never logs the secret", async () => {
    const fake = await fakeWeChat();
    const dir = tempDir();
    const port = await freePort();
    const server = await fixture.cli.serve(
      {
        listen: `127.0.0.1:${port}`,
        upstream: { baseUrl: fake.url },
        store: { type: "file", path: "state/tokens.json" },
        apps: [{ appId: "wxcli000000000001", secretEnv: "WX_CLI_SECRET" }],
      },
      { dir, env: { WX_CLI_SECRET: SECRET } },
    );

    const got = await fixture.cli.run(["get", "wxcli000000000001", "--addr", `127.0.0.1:${port}`]);
    // What the HTTP API answers: proto3 JSON, camelCase, the 64-bit version as a string.
    const { token } = JSON.parse(got.stdout) as { token: { accessToken: string; version: string } };
    expect(token).toMatchObject({ appId: "wxcli000000000001", version: "1" });
    expect(fake.isValid("wxcli000000000001", token.accessToken)).toBe(true);

    const refreshed = await fixture.cli.run(["refresh", "wxcli000000000001", "--stale", token.accessToken, "--addr", `127.0.0.1:${port}`]);
    expect(JSON.parse(refreshed.stdout)).toMatchObject({ refreshed: true, token: { version: "2" } });

    const missing = await fixture.cli.run(["get", "wxnope", "--addr", `127.0.0.1:${port}`]);
    expect(missing).toMatchObject({ code: 77 });
    expect(missing.stderr).toMatch(/NOT_FOUND/);

    server.child.kill("SIGTERM");
    expect(await server.exited).toBe(0);
    const storePath = join(dir, "state/tokens.json");
    expect(existsSync(storePath)).toBe(true);
    expect(statSync(storePath).mode & 0o777).toBe(0o600);
    expect(readFileSync(storePath, "utf8")).toContain('"version": 2');
    expect(server.stderr() + server.stdout()).not.toContain(SECRET);
    expect(server.stderr()).not.toContain(token.accessToken);
  });

  it("reloads the config on SIGHUP: a rotated secret file is used, a broken file changes nothing", async () => {
    const fake = await fakeWeChat();
    const dir = tempDir();
    const port = await freePort();
    const secretFile = join(dir, "secret");
    writeFileSync(secretFile, "not-the-secret\n");
    const body = {
      listen: `127.0.0.1:${port}`,
      upstream: { baseUrl: fake.url },
      store: { type: "memory" },
      apps: [{ appId: "wxcli000000000001", secretFile: "secret" }],
    };
    const server = await fixture.cli.serve(body, { dir });
    const { config } = server;
    const addr = `127.0.0.1:${port}`;
    const before = await fixture.cli.run(["get", "wxcli000000000001", "--addr", addr]);
    expect(before.stderr).toMatch(/FAILED_PRECONDITION.*40125/);

    writeFileSync(config, "{ broken");
    server.child.kill("SIGHUP");
    await eventually(() => expect(server.stderr()).toMatch(/config reload failed/));

    writeFileSync(secretFile, `${SECRET}\n`);
    writeFileSync(config, JSON.stringify(body));
    server.child.kill("SIGHUP");
    await eventually(() => expect(server.stderr()).toMatch(/config reloaded/));
    await eventually(async () => {
      const got = await fixture.cli.run(["get", "wxcli000000000001", "--addr", addr]);
      expect(JSON.parse(got.stdout)).toMatchObject({ token: { version: "1" } });
    });
    server.child.kill("SIGTERM");
    expect(await server.exited).toBe(0);
    expect(server.stderr()).not.toContain(SECRET);
  });

  it("exits non-zero naming the bad key for an invalid config", async () => {
    const dir = tempDir();
    const config = join(dir, "wxtoken.json");
    writeFileSync(config, JSON.stringify({ apps: [{ appId: "wx1", secretEnv: "WX_CLI_SECRET" }], refrsh: {} }));
    const result = await fixture.cli.run(["serve", "--config", config]);
    expect(result).toMatchObject({ code: 78 });
    expect(result.stderr).toMatch(/config error at \(root\): .*"refrsh"/);
  });

  it("exits non-zero when the secret's environment variable is missing", async () => {
    const dir = tempDir();
    const config = join(dir, "wxtoken.json");
    writeFileSync(config, JSON.stringify({ apps: [{ appId: "wx1", secretEnv: "WX_CLI_UNSET_SECRET" }] }));
    const result = await fixture.cli.run(["serve", "--config", config]);
    expect(result).toMatchObject({ code: 78 });
    expect(result.stderr).toMatch(/apps\[0\]\.secretEnv/);
  });
});

describe("wxtoken with authentication", () => {
  it("hash-key makes a key and its hash; serve accepts the key and refuses calls without it", async () => {
    const made = await fixture.cli.run(["hash-key"]);
    const key = /^key: (\S+)$/m.exec(made.stdout)?.[1];
    const hash = /^apiKeySha256: ([0-9a-f]{64})$/m.exec(made.stdout)?.[1];
    expect(key).toMatch(/^wxt_/);
    expect(hash).toBe(createHash("sha256").update(key!).digest("hex"));

    const fake = await fakeWeChat();
    const port = await freePort();
    const server = await fixture.cli.serve(
      {
        listen: `127.0.0.1:${port}`,
        upstream: { baseUrl: fake.url },
        store: { type: "memory" },
        auth: { clients: [{ name: "orders", apiKeySha256: hash, read: ["wxcli000000000001"], refresh: [] }] },
        apps: [{ appId: "wxcli000000000001", secretEnv: "WX_CLI_SECRET" }],
      },
      { env: { WX_CLI_SECRET: SECRET } },
    );
    const addr = `127.0.0.1:${port}`;

    const denied = await fixture.cli.run(["get", "wxcli000000000001", "--addr", addr]);
    expect(denied).toMatchObject({ code: 1 });
    expect(denied.stderr).toMatch(/UNAUTHENTICATED/);

    const got = await fixture.cli.run(["get", "wxcli000000000001", "--addr", addr, "--api-key", key!]);
    expect(JSON.parse(got.stdout)).toMatchObject({ token: { appId: "wxcli000000000001", version: "1" } });
    const viaEnv = await fixture.cli.run(["get", "wxcli000000000001", "--addr", addr], { env: { WXTOKEN_API_KEY: key } });
    expect(JSON.parse(viaEnv.stdout)).toMatchObject({ token: { version: "1" } });

    const noGrant = await fixture.cli.run(["refresh", "wxcli000000000001", "--stale", "x", "--addr", addr, "--api-key", key!]);
    expect(noGrant.stderr).toMatch(/PERMISSION_DENIED/);

    server.child.kill("SIGTERM");
    expect(await server.exited).toBe(0);
    expect(server.stderr()).not.toContain(key!);
  });

  it("refuses to serve an open server on a non-loopback address unless told it is insecure on purpose", async () => {
    const dir = tempDir();
    const config = join(dir, "wxtoken.json");
    writeFileSync(config, JSON.stringify({ listen: "0.0.0.0:0", store: { type: "memory" }, apps: [{ appId: "wx1", secretEnv: "WX_CLI_SECRET" }] }));
    const result = await fixture.cli.run(["serve", "--config", config], { env: { WX_CLI_SECRET: "x" } });
    expect(result).toMatchObject({ code: 78 });
    expect(result.stderr).toMatch(/insecure/);
  });
});

describe("wxtoken demo", () => {
  it("runs the fake WeChat and the server; buf curl gets a token and lists the RPCs through reflection; its metrics listener serves /metrics, the status page and the probes", async () => {
    const port = await freePort();
    const demo = fixture.cli.start(["demo", "--listen", `127.0.0.1:${port}`]);
    await eventually(() => expect(demo.stdout()).toMatch(/wxtoken demo is running/), 10_000);
    expect(demo.stdout()).toContain(`buf curl --protocol grpc --http2-prior-knowledge http://127.0.0.1:${port}/wxtoken.v1.TokenService/GetToken`);
    const base = `http://127.0.0.1:${port}`;
    const got = await run(BUF, ["curl", "--protocol", "grpc", "--http2-prior-knowledge", `${base}/wxtoken.v1.TokenService/GetToken`, "-d", '{"app_id":"wxdemo0000000001"}']);
    const body = JSON.parse(got.stdout) as { token: { appId: string; accessToken: string; version: string; expiresAt: string } };
    expect(body.token.appId).toBe("wxdemo0000000001");
    expect(body.token.accessToken.length).toBeGreaterThan(100);
    expect(new Date(body.token.expiresAt).getTime()).toBeGreaterThan(Date.now());
    const methods = await run(BUF, ["curl", "--protocol", "grpc", "--http2-prior-knowledge", "--list-methods", base]);
    for (const m of ["GetToken", "ForceRefresh", "WatchToken"]) expect(methods.stdout).toContain(`wxtoken.v1.TokenService/${m}`);
    // The metrics listener, on a free port the banner prints: /metrics, the status page and the probes.
    const metrics = /metrics: +(http:\/\/127\.0\.0\.1:\d+)\/metrics/.exec(demo.stdout())?.[1];
    expect(metrics, demo.stdout()).toBeDefined();
    expect(demo.stdout()).toContain(`status page:  ${metrics}/status`);
    const scraped = await fetch(`${metrics}/metrics`);
    expect(scraped.status).toBe(200);
    expect(await scraped.text()).toMatch(/^wxtoken_/m);
    const status = (await (await fetch(`${metrics}/status.json`)).json()) as { credentials: { appId: string }[] };
    expect(status.credentials.map((c) => c.appId)).toContain("wxdemo0000000001");
    expect((await fetch(`${metrics}/status`)).headers.get("content-type")).toMatch(/^text\/html/);
    for (const probe of ["/healthz", "/readyz"]) expect((await fetch(`${metrics}${probe}`)).status, probe).toBe(200);
    demo.child.kill("SIGINT");
    expect(await demo.exited).toBe(0);
  });

  it("shows a WeCom suite installed by two corps (push and redirect): their tokens over gRPC and HTTP with platform_id, the installed corps, a third corp by the printed control route", async () => {
    const SUITE = "wwdemosuite000001";
    const DK = "dkdemotemplate0001";
    const [corp1, corp2] = ["wwdemocorp0000001", "wwdemocorp0000002"];
    const demo = fixture.cli.start(["demo", "--listen", "127.0.0.1:0"]);
    const addr = await printed(demo.stdout, /gRPC server: +(\S+)/);
    await eventually(() => expect(demo.stdout()).toMatch(/fail 3 times\)\n/), 5000);
    const banner = demo.stdout();
    expect(banner).toMatch(new RegExp(`WeCom suite: +${SUITE} .*installed by ${corp1} \\(create_auth pushed\\) and ${corp2} \\(auth code by redirect`));
    const wechat = /fake WeChat: +(\S+)/.exec(banner)![1]!;
    const wecom = /fake WeCom: +(\S+)/.exec(banner)![1]!;
    const http = /HTTP API: +(\S+)/.exec(banner)![1]!;
    expect(banner).toContain(`/wechat/wecom/${SUITE}`);
    expect(banner).toMatch(/A wx\.agentConfig for https:\/\/h5\.example\.com\/app in wwdemocorp0000001 through wwdemosuite000001 \(agentid \d+ from the auth info\)/);
    for (const secret of ["demo-suite-secret", "demo-dk-secret", "demo-provider-secret", "demo-suite-push-token"]) expect(banner).not.toContain(secret);

    // Each corp's token through the suite, over gRPC (platform_id), as the banner's grpcurl line asks; WeCom takes it for a ticket.
    const grpcToken = async (appId: string, platformId: string) => {
      const got = await run(BUF, ["curl", "--protocol", "grpc", "--http2-prior-knowledge", `http://${addr}/wxtoken.v1.TokenService/GetToken`, "-d", JSON.stringify({ app_id: appId, platform_id: platformId })]);
      return (JSON.parse(got.stdout) as { token: { appId: string; platformId: string; accessToken: string } }).token;
    };
    const tokens: string[] = [];
    for (const [corp, platform] of [[corp1, SUITE], [corp2, SUITE], [corp1, DK]] as const) {
      const t = await grpcToken(corp, platform);
      expect(t).toMatchObject({ appId: corp, platformId: platform });
      const ticket = (await (await fetch(`${wecom}/cgi-bin/get_jsapi_ticket?access_token=${encodeURIComponent(t.accessToken)}`)).json()) as { errcode: number };
      expect(ticket.errcode, `${corp}@${platform}`).toBe(0);
      tokens.push(t.accessToken);
    }
    expect(new Set(tokens).size).toBe(3);
    // The same over the HTTP API, as the banner's curl line.
    const viaHttp = (await (await fetch(`${http}/v1/apps/${corp1}/token?platform_id=${SUITE}`)).json()) as { token: { accessToken: string } };
    expect(viaHttp.token.accessToken).toBe(tokens[0]);

    // wxtoken platform SUITE lists the installed corps; a third installs by the printed control route and joins.
    const corps = async () => {
      const listed = await fixture.cli.run(["platform", SUITE, "--addr", addr]);
      expect(listed.code, listed.stderr).toBe(0);
      return (JSON.parse(listed.stdout) as { authorizers: { appId: string }[] }).authorizers.map((a) => a.appId);
    };
    expect(await corps()).toEqual([corp1, corp2]);
    // The console's URL check, as the banner prints it: the demo's receiver answers it.
    expect(banner).toContain(`curl -X POST "${wechat}/_fake/suite/verify-url?suite=${SUITE}"`);
    const checked = (await (await fetch(`${wechat}/_fake/suite/verify-url?suite=${SUITE}`, { method: "POST" })).json()) as { ok: boolean };
    expect(checked).toMatchObject({ ok: true, status: 200 });
    expect(banner).toContain(`curl -X POST "${wechat}/_fake/suite/install?suite=${SUITE}&corpid=wwdemocorp0000003"`);
    const installed = (await (await fetch(`${wechat}/_fake/suite/install?suite=${SUITE}&corpid=wwdemocorp0000003`, { method: "POST" })).json()) as { ok: boolean };
    expect(installed.ok).toBe(true);
    await eventually(async () => expect(await corps()).toEqual([corp1, corp2, "wwdemocorp0000003"]), 10_000);
    demo.child.kill("SIGINT");
    expect(await demo.exited).toBe(0);
  });
});

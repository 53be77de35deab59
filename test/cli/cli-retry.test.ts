/**
 * `wxtoken retry` learns what its SIGHUP did: `serve --pidfile FILE` keeps the
 * outcome of each reload in FILE.reload.json, and retry waits for it. Real
 * processes: the built CLI's `serve` and `retry`, the fake WeChat over HTTP.
 */
import { spawn } from "node:child_process";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { FakeWeChat } from "../../src/fake-wechat/index.js";
import { freePort, useCli } from "../support/cli.js";
import { APP, APP2, eventually, SECRETS, tempDir } from "../support/harness.js";

const fixture = useCli();

async function serve() {
  const fake = new FakeWeChat({ apps: SECRETS });
  await fake.start();
  fixture.defer(() => fake.close());
  const dir = tempDir();
  const pidfile = join(dir, "wxtoken.pid");
  const config = join(dir, "wxtoken.json");
  const port = await freePort();
  const base = { listen: `127.0.0.1:${port}`, upstream: { baseUrl: fake.url }, store: { type: "memory" } };
  const write = (more: object) => writeFileSync(config, JSON.stringify({ ...base, ...more }));
  write({ apps: [{ appId: APP, secretEnv: "WX_SECRET" }] });
  const server = fixture.cli.start(["serve", "--config", config, "--pidfile", pidfile], { WX_SECRET: SECRETS[APP]!, WX_SECRET2: SECRETS[APP2]! });
  await eventually(() => expect(existsSync(pidfile)).toBe(true), 10_000);
  const get = (app: string) => fixture.cli.run(["get", app, "--addr", `127.0.0.1:${port}`]);
  return { server, pidfile, status: `${pidfile}.reload.json`, write, get };
}

const statusOf = (path: string) => JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;

describe("wxtoken retry --pidfile", () => {
  it("exits 1 with the reason when the server refused the config, 0 when it applied it, and says what needs a restart", { timeout: 30_000 }, async () => {
    const s = await serve();
    expect(statusOf(s.status)).toMatchObject({ pid: s.server.child.pid, reloads: 0, ok: true });
    expect(statSync(s.status).mode & 0o777).toBe(0o600);

    // A config the server refuses: the variable holding the second app's secret is not set.
    s.write({ apps: [{ appId: APP, secretEnv: "WX_SECRET" }, { appId: APP2, secretEnv: "NOT_SET_ANYWHERE" }] });
    const refused = await fixture.cli.run(["retry", "--pidfile", s.pidfile]);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toBe("");
    expect(refused.stderr).toMatch(/^error: the server \(\d+\) did not apply the config and keeps running with the one it had: config error at apps\[1\]\.secretEnv: environment variable NOT_SET_ANYWHERE is not set or empty\n$/);
    expect(s.server.stderr()).toMatch(/config reload failed/);
    expect(statusOf(s.status)).toMatchObject({ reloads: 1, ok: false, error: expect.stringMatching(/NOT_SET_ANYWHERE/) });
    // It did keep the running config.
    expect((await s.get(APP)).code).toBe(0);
    expect((await s.get(APP2)).stderr).toMatch(/NOT_FOUND/);

    // A file that is not JSON, around a secret written without quotes: the parser's message would quote it.
    const secret = "LITERALSECRET0123456789abcdef";
    writeFileSync(s.pidfile.replace(/wxtoken\.pid$/, "wxtoken.json"), `{"apps": [{"appId": "${APP}", "secret": ${secret}}]}`);
    const garbled = await fixture.cli.run(["retry", "--pidfile", s.pidfile]);
    expect(garbled.code).toBe(1);
    expect(garbled.stderr).toMatch(/keeps running with the one it had: config file .*wxtoken\.json is not valid JSON \(a value or punctuation is wrong: check quotes and commas\)\n$/);
    for (const output of [garbled.stderr, readFileSync(s.status, "utf8"), s.server.stderr(), s.server.stdout()]) expect(output).not.toMatch(/LITERAL/);

    // Fixed (and a key that needs a restart changed too): applied, exit 0.
    s.write({ apps: [{ appId: APP, secretEnv: "WX_SECRET" }, { appId: APP2, secretEnv: "WX_SECRET2" }], shutdownGraceMs: 1000 });
    const applied = await fixture.cli.run(["retry", "--pidfile", s.pidfile]);
    expect(applied.stderr).toBe("");
    expect(applied.code).toBe(0);
    expect(applied.stdout).toMatch(/^the server \(\d+\) reloaded its config; no credential was failing \(subject to its quota guard\)\nthese changes take effect after a restart: shutdownGraceMs\n$/);
    expect(statusOf(s.status)).toMatchObject({ reloads: 3, ok: true, needsRestart: ["shutdownGraceMs"] });
    expect(JSON.parse((await s.get(APP2)).stdout)).toMatchObject({ token: { appId: APP2, version: "1" } });

    // Stopped: the status file goes with the pidfile, and retry says the server is not running.
    s.server.child.kill("SIGTERM");
    expect(await s.server.exited).toBe(0);
    expect(existsSync(s.pidfile)).toBe(false);
    expect(existsSync(s.status)).toBe(false);
    const gone = await fixture.cli.run(["retry", "--pidfile", s.pidfile]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/^error: cannot read .*wxtoken\.pid: .*is the server running with --pidfile/);
    // A pidfile left by a process that is gone.
    writeFileSync(s.pidfile, `${s.server.child.pid}\n`);
    const stale = await fixture.cli.run(["retry", "--pidfile", s.pidfile]);
    expect(stale.code).toBe(1);
    expect(stale.stderr).toMatch(/^error: no process \d+: the server is not running \(.* is left from an earlier run\?\)\n$/);
  });

  it("exits 1 when the process reports no outcome in time (not a wxtoken server, or an older one)", { timeout: 30_000 }, async () => {
    // A process that takes SIGHUP and writes nothing.
    const child = spawn(process.execPath, ["-e", "process.on('SIGHUP', () => {}); console.log('ready'); setInterval(() => {}, 1000)"], { stdio: ["ignore", "pipe", "ignore"] });
    fixture.defer(() => child.kill("SIGKILL"));
    await new Promise<void>((resolve) => child.stdout!.once("data", () => resolve()));
    const pidfile = join(tempDir(), "other.pid");
    writeFileSync(pidfile, `${child.pid}\n`);
    const run = await fixture.cli.run(["retry", "--pidfile", pidfile, "--timeout", "300"]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^error: sent SIGHUP to \d+, but it reported no outcome in .*other\.pid\.reload\.json within 300 ms \(a server older than this command writes none\): see its log\n$/);
  });

  it("with --pid alone, signals and says that the outcome is not known", { timeout: 30_000 }, async () => {
    const s = await serve();
    const run = await fixture.cli.run(["retry", "--pid", String(s.server.child.pid)]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^sent SIGHUP to \d+; whether its config reloaded is not known without --pidfile/);
    await eventually(() => expect(statusOf(s.status)).toMatchObject({ reloads: 1, ok: true }), 10_000);
  });
});

describe("a config file that is not JSON", () => {
  it("is reported by line and column, never with the text around the error (it may hold a secret)", async () => {
    const { loadConfigFile } = await import("../../src/config/load.js");
    const dir = tempDir();
    const at = join(dir, "position.json");
    writeFileSync(at, `{\n  "apps": [{ "appId": "${APP}", "secret": "QUOTEDSECRET0123" x }]\n}`);
    expect(() => loadConfigFile(at)).toThrow(/position\.json is not valid JSON at line 2, column 74$/);
    const unquoted = join(dir, "unquoted.json");
    writeFileSync(unquoted, `{"apps": [{"appId": "${APP}", "secret": UNQUOTEDSECRET0123}]}`);
    let message = "";
    try {
      loadConfigFile(unquoted);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/unquoted\.json is not valid JSON \(a value or punctuation is wrong: check quotes and commas\)$/);
    expect(message).not.toMatch(/SECRET/);
  });
});

/**
 * The client commands in their own processes: `watch`, `callback-ip` with the
 * same authentication flags as the others, and the checks on numeric flags.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateApiKey, hashApiKey } from "../../src/auth/api-key.js";
import { FakeWeChat } from "../../src/fake-wechat/index.js";
import { TestCa, type KeyPair } from "../support/auth.js";
import { freePort, useCli } from "../support/cli.js";
import { APP, eventually, Harness } from "../support/harness.js";

const SECRET = "cli-clients-secret-0123456789";
const KEY = generateApiKey();

const fixture = useCli();

describe("wxtoken watch", () => {
  it("prints one JSON line per token, follows a rotation, and exits 0 on Ctrl-C", async () => {
    const h = await Harness.start();
    fixture.defer(() => h.stop());
    const watch = fixture.cli.start(["watch", APP, "--addr", `127.0.0.1:${h.port}`]);
    // Each line is what an event of the HTTP API's watch carries: { token } in proto3 JSON.
    const lines = () => watch.stdout().split("\n").filter(Boolean).map((l) => (JSON.parse(l) as { token: { version: string; accessToken: string } }).token);
    await eventually(() => expect(lines()).toHaveLength(1), 10_000);
    const first = (await h.getToken(APP)).token!;
    expect(lines()[0]).toMatchObject({ appId: APP, version: "1", accessToken: first.accessToken, fingerprint: first.fingerprint });

    const rotated = (await h.forceRefresh(APP, first.accessToken)).token!;
    await eventually(() => expect(lines()).toHaveLength(2));
    expect(lines()[1]).toMatchObject({ version: "2", accessToken: rotated.accessToken });

    watch.child.kill("SIGINT");
    expect(await watch.exited).toBe(0);
    await eventually(() => expect(h.server.tokens.watcherCount()).toBe(0));
  });
});

describe("wxtoken callback-ip with authentication", () => {
  let ca: TestCa;
  let serverCert: KeyPair;
  beforeAll(() => {
    ca = new TestCa("cli-clients-ca");
    serverCert = ca.serverCert();
  }, 30_000);
  afterAll(() => ca.dispose());

  it("uses --api-key or WXTOKEN_API_KEY and the --tls-* flags, like the other client commands", async () => {
    const fake = new FakeWeChat({ apps: { [APP]: SECRET } });
    await fake.start();
    fixture.defer(() => fake.close());
    const port = await freePort();
    await fixture.cli.serve(
      {
        listen: `127.0.0.1:${port}`,
        upstream: { baseUrl: fake.url },
        store: { type: "memory" },
        tls: { certFile: serverCert.cert, keyFile: serverCert.key },
        auth: { clients: [{ name: "svc", apiKeySha256: hashApiKey(KEY), read: ["*"] }] },
        apps: [{ appId: APP, secretEnv: "WX_SECRET" }],
      },
      { env: { WX_SECRET: SECRET } },
    );
    const args = ["callback-ip", APP, "--addr", `127.0.0.1:${port}`, "--wechat", fake.url, "--tls-ca", ca.cert, "--timeout", "5000"];

    const withFlag = await fixture.cli.run([...args, "--api-key", KEY, "--tls-server-name", "localhost"], { timeoutMs: 15_000 });
    expect(withFlag).toMatchObject({ code: 0, stderr: "" });
    expect(JSON.parse(withFlag.stdout)).toContain("106.55.206.146");

    const withEnv = await fixture.cli.run(args, { env: { WXTOKEN_API_KEY: KEY }, timeoutMs: 15_000 });
    expect(withEnv).toMatchObject({ code: 0 });
    expect(JSON.parse(withEnv.stdout)).toContain("106.55.206.146");

    const noKey = await fixture.cli.run(args, { env: { WXTOKEN_API_KEY: "" }, timeoutMs: 15_000 });
    expect(noKey.code).toBe(1);
    expect(noKey.stderr).toMatch(/WatchToken failed: UNAUTHENTICATED/);
  }, 60_000);
});

describe("help", () => {
  it.each([[["--help"]], [["-h"]], [["help"]]])("%j prints the usage to stdout and exits 0", async (args) => {
    const result = await fixture.cli.run(args);
    expect(result).toMatchObject({ code: 0, stderr: "" });
    expect(result.stdout).toMatch(/^wxtoken: a central access_token server/);
    expect(result.stdout).toContain("wxtoken serve --config FILE");
    expect(result.stdout).toContain("wxtoken get APP");
  });

  it("no command at all is a usage error: exit 2, the usage on stderr", async () => {
    const result = await fixture.cli.run([]);
    expect(result).toMatchObject({ code: 2, stdout: "" });
    expect(result.stderr).toMatch(/^error: a command is needed/);
    expect(result.stderr).toContain("wxtoken serve --config FILE");
  });
});

describe("numeric flags", () => {
  it.each([
    [["get", APP, "--timeout", "10s"], /--timeout must be a positive number of milliseconds, got "10s"/],
    [["refresh", APP, "--stale", "x", "--timeout", "0"], /--timeout must be a positive number of milliseconds, got "0"/],
    [["watch", APP, "--known-version=-1"], /--known-version must be a version number \(0 or more\), got "-1"/],
    [["watch", APP, "--known-version", "1.5"], /--known-version must be/],
    [["callback-ip", APP, "--repeat", "0"], /--repeat must be a positive whole number, got "0"/],
    [["callback-ip", APP, "--interval", "fast"], /--interval must be a number of milliseconds \(0 or more\), got "fast"/],
    [["fake-wechat", "--port", "99999"], /--port must be a port number \(0-65535\), got "99999"/],
    [["demo", "--expires-in", "NaN"], /--expires-in must be a positive number of seconds, got "NaN"/],
    [["get", APP, "--timout", "5"], /get does not take --timout/],
  ])("%j is a usage error (exit 2) naming the flag", async (args, message) => {
    const result = await fixture.cli.run(args as string[]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message as RegExp);
    expect(result.stderr).toContain(`Usage:\n  wxtoken ${(args as string[])[0]} `); // followed by the command's usage
  });
});

/**
 * The curl examples of docs/http-api.md, run as written (with the port and
 * a real stale token filled in) with the real curl against a `wxtoken serve`
 * process: documentation that does not work fails the build.
 */
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { FakeWeChat } from "../../src/fake-wechat/index.js";
import { freePort, useCli } from "../support/cli.js";
import { eventually } from "../support/harness.js";

const run = promisify(execFile);
const DOC = fileURLToPath(new URL("../../docs/http-api.md", import.meta.url));
const APP = "wxdemo0000000001";
const fixture = useCli();

/** The shell commands of the doc's first ```sh block, continuation lines joined. */
function examples(): string[] {
  const md = readFileSync(DOC, "utf8");
  const block = /```sh\n([\s\S]*?)```/.exec(md)![1]!;
  return block
    .replace(/\\\n\s*/g, "")
    .split("\n")
    .filter((l) => l.startsWith("curl "));
}

describe("docs/http-api.md", () => {
  it("has curl examples that work against a real server", { timeout: 60_000 }, async () => {
    const fake = new FakeWeChat({ apps: { [APP]: "demo-secret" } });
    await fake.start();
    fixture.defer(() => fake.close());
    const [grpcPort, httpPort] = [await freePort(), await freePort()];
    await fixture.cli.serve(
      {
        listen: `127.0.0.1:${grpcPort}`,
        http: { listen: `127.0.0.1:${httpPort}` },
        upstream: { baseUrl: fake.url },
        store: { type: "memory" },
        apps: [{ appId: APP, secretEnv: "DEMO_SECRET", tickets: ["jsapi"] }],
      },
      { env: { DEMO_SECRET: "demo-secret" } },
    );
    const commands = examples();
    expect(commands.length).toBeGreaterThanOrEqual(5);
    let token = "";
    for (const command of commands) {
      const line = command.replaceAll("127.0.0.1:8080", `127.0.0.1:${httpPort}`).replaceAll("TOKEN", token);
      if (line.includes("token:watch")) {
        // The stream: the current token at once, as an event; then stop it.
        const child = fixture.cli.spawnShell(line);
        await eventually(() => expect(child.stdout()).toMatch(/^event: token$/m), 10_000);
        child.child.kill("SIGINT");
        continue;
      }
      const { stdout } = await run("sh", ["-c", line], { timeout: 10_000 });
      const json = JSON.parse(stdout) as Record<string, any>;
      expect(json.code, `${line} answered ${stdout}`).toBeUndefined();
      if (line.endsWith("/token")) token = json.token.accessToken as string;
      if (line.includes("token:refresh")) expect(json).toMatchObject({ refreshed: true, token: { version: "2" } });
      if (line.includes("jssdk:sign")) expect(json.signature).toMatch(/^[0-9a-f]{40}$/);
      if (line.includes("/v1/credentials")) expect(json).toMatchObject({ credentials: [{ appId: APP, state: "CREDENTIAL_STATE_OK" }, { appId: APP, kind: "CREDENTIAL_KIND_JSAPI_TICKET" }], totalSize: 2 });
    }
  });
});

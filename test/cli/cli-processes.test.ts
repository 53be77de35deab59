/**
 * The long-running commands as their own processes: `fake-wechat`, `demo`
 * driven by `callback-ip`, and `serve` stopped under an open watch stream.
 */
import { status } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { FakeWeChat } from "../../src/fake-wechat/index.js";
import { TokenClient, TokenServiceError } from "../../src/index.js";
import { freePort, printed, useCli, type Running } from "../support/cli.js";
import { APP, eventually } from "../support/harness.js";

const SECRET = "cli-processes-secret-0123456789";

const fixture = useCli();

function lines(p: Running): string[] {
  return p.stdout().split("\n").filter(Boolean);
}

describe("wxtoken fake-wechat", () => {
  it("runs as its own process and answers /cgi-bin/token", async () => {
    const fake = fixture.cli.start(["fake-wechat", "--port", "0", "--app", `${APP}:${SECRET}`, "--expires-in", "300"]);
    const url = await printed(fake.stdout, /fake WeChat listening on (http:\/\/\S+)/);
    const token = (appSecret: string) =>
      fetch(`${url}/cgi-bin/token?grant_type=client_credential&appid=${APP}&secret=${appSecret}`).then((r) => r.json() as Promise<Record<string, unknown>>);

    const ok = await token(SECRET);
    expect(ok).toMatchObject({ access_token: expect.any(String), expires_in: 300 });
    expect(await token("not-the-secret")).toMatchObject({ errcode: 40125 });

    fake.child.kill("SIGTERM");
    expect(await fake.exited).toBe(0);
  });

  it("with --component pushes signed, encrypted tickets to --push-url on request, and its component token endpoint takes them", async () => {
    const { createServer } = await import("node:http");
    const { openPush, pushQueryOf } = await import("../../src/platform/push.js");
    const keys = { receiverId: "wxcomponentcli0001", token: "cli-push-token", encodingAesKey: "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG" };
    const tickets: string[] = [];
    const receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const fields = openPush(keys, pushQueryOf(new URL(req.url ?? "/", "http://x").searchParams), Buffer.concat(chunks));
        tickets.push(fields["ComponentVerifyTicket"]!);
        res.end("success");
      });
    });
    await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
    fixture.defer(() => new Promise((r) => receiver.close(r)));
    const port = (receiver.address() as { port: number }).port;
    const spec = `${keys.receiverId}:component-secret:${keys.token}:${keys.encodingAesKey}`;
    const fake = fixture.cli.start(["fake-wechat", "--port", "0", "--component", spec, "--push-url", `http://127.0.0.1:${port}/push`]);
    const url = await printed(fake.stdout, /fake WeChat listening on (http:\/\/\S+)/);
    const pushed = (await (await fetch(`${url}/_fake/component/push-ticket`, { method: "POST" })).json()) as Record<string, unknown>;
    expect(pushed).toMatchObject({ ok: true, receiverStatus: 200 });
    expect(tickets).toHaveLength(1);
    const token = await fetch(`${url}/cgi-bin/component/api_component_token`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ component_appid: keys.receiverId, component_appsecret: "component-secret", component_verify_ticket: tickets[0] }),
    }).then((r) => r.json() as Promise<Record<string, unknown>>);
    expect(token).toMatchObject({ component_access_token: expect.any(String), expires_in: 7200 });
    const bad = fixture.cli.run(["fake-wechat", "--port", "0", "--component", "only:three:parts"]);
    expect((await bad).stderr).toMatch(/--component takes APPID:SECRET:TOKEN:AESKEY/);
    fake.child.kill("SIGTERM");
    expect(await fake.exited).toBe(0);
  });
});

describe("wxtoken callback-ip against wxtoken demo", () => {
  it("recovers by itself when the demo's fake WeChat invalidates the token mid-run", async () => {
    const demo = fixture.cli.start(["demo", "--listen", "127.0.0.1:0"]);
    const addr = await printed(demo.stdout, /gRPC server: +(\S+)/);
    const wechat = await printed(demo.stdout, /fake WeChat: +(\S+)/);
    const app = "wxdemo0000000001";

    const caller = fixture.cli.start(["callback-ip", app, "--addr", addr, "--wechat", wechat, "--repeat", "3", "--interval", "500"]);
    await eventually(() => expect(lines(caller)).toHaveLength(1), 10_000);
    // Someone else "refreshes" the token at WeChat: the one callback-ip holds is now rejected.
    const invalidated = await fetch(`${wechat}/_fake/invalidate?appid=${app}`, { method: "POST" });
    expect(invalidated.status).toBe(200);

    expect(await caller.exited).toBe(0);
    expect(lines(caller)).toHaveLength(3);
    for (const line of lines(caller)) expect(JSON.parse(line)).toContain("106.55.206.146");
    expect(caller.stderr()).toMatch(/^WeChat rejected the token \(errcode 40001\); retrying with token v2 \([0-9a-f]{8}\)\n$/);

    demo.child.kill("SIGINT");
    expect(await demo.exited).toBe(0);
  });
});

describe("wxtoken serve on SIGTERM", () => {
  it("ends an open watch stream with UNAVAILABLE and exits 0", async () => {
    const fake = new FakeWeChat({ apps: { [APP]: SECRET } });
    await fake.start();
    fixture.defer(() => fake.close());
    const port = await freePort();
    const server = await fixture.cli.serve(
      { listen: `127.0.0.1:${port}`, upstream: { baseUrl: fake.url }, store: { type: "memory" }, apps: [{ appId: APP, secretEnv: "WX_SECRET" }] },
      { env: { WX_SECRET: SECRET } },
    );
    const client = new TokenClient(`127.0.0.1:${port}`);
    fixture.defer(() => client.close());
    const tokens = client.watch(APP);
    expect((await tokens.next()).value).toMatchObject({ appId: APP, version: 1 });

    server.child.kill("SIGTERM");
    const ended = await tokens.next().then(
      () => expect.fail("expected the stream to end with an error"),
      (err: unknown) => err,
    );
    expect(ended).toBeInstanceOf(TokenServiceError);
    expect((ended as TokenServiceError).code).toBe(status.UNAVAILABLE);
    expect((ended as TokenServiceError).details).toMatch(/server shutting down/);
    expect(await server.exited).toBe(0);
  });
});

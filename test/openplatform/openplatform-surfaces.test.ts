/**
 * The Open Platform on every surface besides gRPC's GetToken: the HTTP/JSON
 * routes of ListAuthorizers and SyncAuthorizers, the metrics and health an
 * operator watches, the CLI's `platform` command, grants, and the config rules.
 */
import { status } from "@grpc/grpc-js";
import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { clientOptions } from "../../packages/client/src/client-credentials.js";
import { TokenClient } from "../../packages/client/src/token-client.js";
import { AuthorizerStatus, ListAuthorizersRequest } from "../../generated/wxtoken/v1/token_service.js";
import { eventually, grpcError } from "../support/harness.js";
import { useCli } from "../support/cli.js";
import { AES_KEY, AUTH1, AUTH2, COMPONENT, PlatformHarness } from "../support/platform.js";

const fixture = useCli();
let running: PlatformHarness | undefined;
afterEach(async () => {
  await running?.stop();
  running = undefined;
});

async function ready(o: Parameters<typeof PlatformHarness.start>[0] = {}): Promise<PlatformHarness> {
  const p = (running = await PlatformHarness.start({ config: { http: { listen: "127.0.0.1:0" }, metrics: { listen: "127.0.0.1:0" }, ...o.config }, ...o }));
  await p.fake.component.pushTicket();
  await eventually(async () => {
    await p.clock.advance(0);
    await p.h.getToken(COMPONENT, 300);
    expect(p.calls("api_get_authorizer_list")).toBe(1);
  });
  for (const a of [AUTH1, AUTH2]) await p.fake.component.authorize(a);
  return p;
}

async function getJson(url: string, method: "GET" | "POST" = "GET"): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await request(url, { method, ...(method === "POST" ? { body: "{}", headers: { "content-type": "application/json" } } : {}) });
  return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
}

describe("Open Platform surfaces", () => {
  it("HTTP: GET /v1/platforms/{id}/authorizers and POST :sync, in proto3 JSON, never a token", async () => {
    const p = await ready();
    const base = `http://127.0.0.1:${p.h.server.httpPort}/v1/platforms`;
    const list = await getJson(`${base}/${COMPONENT}/authorizers`);
    expect(list.status).toBe(200);
    expect(list.body).toMatchObject({ componentAppId: COMPONENT, componentTokenVersion: "1" });
    const authorizers = list.body["authorizers"] as Record<string, unknown>[];
    expect(authorizers.map((a) => [a["appId"], a["status"], a["tokenVersion"]])).toEqual([
      [AUTH1, "AUTHORIZER_STATUS_ACTIVE", "1"],
      [AUTH2, "AUTHORIZER_STATUS_ACTIVE", "1"],
    ]);
    const token = (await p.h.getToken(AUTH1)).token!.accessToken;
    expect(JSON.stringify(list.body)).not.toContain(token);
    const synced = await getJson(`${base}/${COMPONENT}/authorizers:sync`, "POST");
    expect(synced.status).toBe(200);
    expect(synced.body).toMatchObject({ unchanged: 2 });
    const unknown = await getJson(`${base}/wxnosuchplatform/authorizers`);
    expect(unknown.status).toBe(404);
    expect(JSON.stringify(unknown.body)).toContain("UNKNOWN_PLATFORM");
    expect((await getJson(`${base}/bad%20id/authorizers`)).status).toBe(400);
  });

  it("gRPC: an unknown platform is NOT_FOUND, a malformed id INVALID_ARGUMENT", async () => {
    const p = await ready();
    const call = (componentAppId: string) =>
      new Promise((resolve, reject) => p.h.client.listAuthorizers(ListAuthorizersRequest.fromPartial({ componentAppId }), (err, res) => (err ? reject(err) : resolve(res))));
    expect((await grpcError(call("wxnosuchplatform"))).code).toBe(status.NOT_FOUND);
    expect((await grpcError(call(""))).code).toBe(status.INVALID_ARGUMENT);
    expect((await grpcError(call("no spaces"))).code).toBe(status.INVALID_ARGUMENT);
  });

  it("metrics: authorizers by status, the ticket's remaining life, pushes by result", async () => {
    const p = await ready();
    p.fake.inject({ path: "/cgi-bin/component/api_authorizer_token", appId: AUTH2, errcode: 61023, times: Infinity });
    // WeChat no longer lists AUTH2 either: it stays marked.
    p.fake.component.pushUrl = "http://127.0.0.1:9/unreachable";
    await p.fake.component.deauthorize(AUTH2).catch(() => undefined);
    await p.sync();
    const scrape = async () => (await request(`http://127.0.0.1:${p.h.server.metricsPort}/metrics`)).body.text();
    await eventually(async () => {
      const text = await scrape();
      expect(text).toContain(`wxtoken_platform_authorizers{component="${COMPONENT}",status="active"} 1`);
      expect(text).toContain(`wxtoken_platform_authorizers{component="${COMPONENT}",status="needs_reauthorization"} 1`);
      expect(text).toContain(`wxtoken_platform_verify_ticket_remaining_seconds{component="${COMPONENT}"} 43200`);
      expect(text).toContain(`wxtoken_platform_pushes_total{component="${COMPONENT}",info_type="component_verify_ticket",result="stored"}`);
      expect(text).toContain(`wxtoken_platform_pushes_total{component="${COMPONENT}",info_type="authorized",result="stored"} 2`);
    });
    expect((await p.list()).authorizers.find((a) => a.appId === AUTH2)!.status).toBe(AuthorizerStatus.AUTHORIZER_STATUS_NEEDS_REAUTHORIZATION);
  });

  it("grants: one on the component appid covers its authorizers; one on an authorizer does not reach the platform or others", async () => {
    const { generateApiKey, hashApiKey } = await import("../../src/auth/api-key.js");
    const platformKey = generateApiKey();
    const merchantKey = generateApiKey();
    const p = await ready({
      apiKey: platformKey,
      config: {
        auth: {
          clients: [
            { name: "platform-svc", apiKeySha256: hashApiKey(platformKey), read: [COMPONENT], refresh: [COMPONENT] },
            { name: "merchant-svc", apiKeySha256: hashApiKey(merchantKey), read: [AUTH1] },
          ],
        },
      },
    });
    // The harness client is platform-svc: every authorizer's token, the listing and a sync.
    for (const appId of [AUTH1, AUTH2]) expect((await p.h.getToken(appId)).token!.appId).toBe(appId);
    expect((await p.sync()).unchanged).toBe(2);
    const merchant = new TokenClient(`127.0.0.1:${p.h.port}`, { channelOptions: clientOptions({ apiKey: merchantKey }) });
    try {
      expect((await merchant.getToken(AUTH1)).appId).toBe(AUTH1);
      await expect(merchant.getToken(AUTH2)).rejects.toMatchObject({ codeName: "PERMISSION_DENIED" });
      await expect(merchant.getToken(COMPONENT)).rejects.toMatchObject({ codeName: "PERMISSION_DENIED" });
      await expect(merchant.listAuthorizers(COMPONENT)).rejects.toMatchObject({ codeName: "PERMISSION_DENIED" });
      // The same answer for an app that is no authorizer at all.
      await expect(merchant.getToken("wxnotanauthorizer1")).rejects.toMatchObject({ codeName: "PERMISSION_DENIED" });
    } finally {
      merchant.close();
    }
  });

  it("the CLI prints the platform, and --sync re-reads it", async () => {
    const p = await ready();
    const shown = await fixture.cli.run(["platform", COMPONENT, "--addr", `127.0.0.1:${p.h.port}`], { timeoutMs: 15_000 });
    expect(shown.code).toBe(0);
    // What the HTTP API answers for ListAuthorizers (and for SyncAuthorizers with --sync).
    const out = JSON.parse(shown.stdout) as { authorizers: { appId: string; status: string }[]; verifyTicketExpiresAt?: string; componentTokenVersion: string };
    expect(out.authorizers.map((a) => [a.appId, a.status])).toEqual([
      [AUTH1, "AUTHORIZER_STATUS_ACTIVE"],
      [AUTH2, "AUTHORIZER_STATUS_ACTIVE"],
    ]);
    expect(out.componentTokenVersion).toBe("1");
    expect(out.verifyTicketExpiresAt).toEqual(expect.any(String));
    const synced = await fixture.cli.run(["platform", COMPONENT, "--sync", "--addr", `127.0.0.1:${p.h.port}`], { timeoutMs: 15_000 });
    expect(JSON.parse(synced.stdout)).toMatchObject({ unchanged: 2, platform: { componentAppId: COMPONENT, authorizers: [{ appId: AUTH1 }, { appId: AUTH2 }] } });
    expect(JSON.parse(synced.stdout)).not.toHaveProperty("restored"); // 0: left out, as proto3 JSON does
    const unknown = await fixture.cli.run(["platform", "wxnosuchplatform", "--addr", `127.0.0.1:${p.h.port}`], { timeoutMs: 15_000 });
    expect(unknown.code).toBe(77); // NOT_FOUND
    expect(unknown.stderr).toMatch(/NOT_FOUND/);
  });
});

describe("openPlatform config", () => {
  const env = { S: "secret", T: "token", K: AES_KEY };
  const platform = { componentAppId: COMPONENT, secretEnv: "S", messageTokenEnv: "T", encodingAesKeyEnv: "K" };
  const parse = (openPlatform: unknown, apps: unknown[] = []) => () => parseConfig({ apps, openPlatform }, { env });

  it("a platform alone is a valid config, with the default path and receiver", () => {
    const loaded = parse({ platforms: [platform] })();
    expect(loaded.platforms[0]).toMatchObject({ componentAppId: COMPONENT, path: `/wechat/open/${COMPONENT}` });
    expect(loaded.config.openPlatform!.receiver).toEqual({ listen: "127.0.0.1:8090", maxBodyBytes: 65_536, maxClockSkewSeconds: 300 });
    expect(String(loaded.platforms[0]!.encodingAesKey)).toBe("***");
    expect(() => parseConfig({ apps: [] }, { env })).toThrow(/apps: configure at least one app \(or an openPlatform, or wecomProviders\)/);
  });

  it("refuses a bad EncodingAESKey, two sources of one secret, a duplicate path, and a component appid configured as an app", () => {
    expect(() => parseConfig({ openPlatform: { platforms: [platform] } }, { env: { ...env, K: "short" } })).toThrow(/openPlatform\.platforms\[0\]\.encodingAesKey: must be the 43-character EncodingAESKey/);
    expect(parse({ platforms: [{ ...platform, messageToken: "literal" }] })).toThrow(/exactly one of messageTokenEnv, messageTokenFile or messageToken/);
    expect(parse({ platforms: [platform, { ...platform, componentAppId: "wxcomponent0000002" }] })).not.toThrow();
    expect(parse({ platforms: [platform, { ...platform, componentAppId: "wxcomponent0000002", path: `/wechat/open/${COMPONENT}` }] })).toThrow(/is already the path of openPlatform\.platforms\[0\]/);
    expect(parse({ platforms: [platform] }, [{ appId: COMPONENT, secretEnv: "S" }])).toThrow(/is also configured under apps/);
    expect(parse({ platforms: [{ ...platform, path: "no-slash" }] })).toThrow(/path/);
    expect(() => parseConfig({ openPlatform: { platforms: [platform] } }, { env: { S: "s", K: AES_KEY } })).toThrow(/messageTokenEnv: environment variable T is not set/);
  });

  it("warns about literal secrets, naming the key and never the value", () => {
    const loaded = parse({ platforms: [{ componentAppId: COMPONENT, secret: "lit-secret", messageToken: "lit-token", encodingAesKey: AES_KEY }] })();
    expect(loaded.warnings.join("\n")).toMatch(/openPlatform\.platforms\[0\]\.messageToken holds the message-verification Token/);
    expect(loaded.warnings.join("\n")).not.toMatch(/lit-secret|lit-token|abcdefghijklmnop/);
  });
});

/** Config reload (SIGHUP): apps and auth change without a restart. */
import { credentials, status, type ServiceError } from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { HealthClient, HealthCheckResponse_ServingStatus as S } from "../generated/grpc/health/v1/health.js";
import { parseConfig, type LoadedConfig } from "../src/config/load.js";
import { APP, APP2, eventually, grpcError, Harness, SECRETS } from "./support/harness.js";

let h: Harness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

function configWith(apps: { appId: string; secret: string }[], extra: Record<string, unknown> = {}): LoadedConfig {
  return parseConfig({ listen: "127.0.0.1:0", store: { type: "memory" }, ...extra, apps, shutdownGraceMs: 2000 });
}

function check(port: number, service: string): Promise<S | status> {
  const client = new HealthClient(`127.0.0.1:${port}`, credentials.createInsecure());
  return new Promise((resolve) =>
    client.check({ service }, (err, res) => {
      client.close();
      resolve(err ? (err as ServiceError).code : res.status);
    }),
  );
}

describe("reload", () => {
  it("adds an app: it is served at once, with its own health entry", async () => {
    h = await Harness.start({ config: { apps: [{ appId: APP, secret: SECRETS[APP]! }] } });
    expect((await grpcError(h.getToken(APP2))).code).toBe(status.NOT_FOUND);
    const result = h.server.reload(configWith([{ appId: APP, secret: SECRETS[APP]! }, { appId: APP2, secret: SECRETS[APP2]! }]));
    expect(result.apps).toEqual({ added: [APP2], removed: [], updated: [] });
    const t = (await h.getToken(APP2)).token!;
    expect(h.fake.isValid(APP2, t.accessToken)).toBe(true);
    await eventually(async () => expect(await check(h!.port, `wxtoken.v1.TokenService/${APP2}`)).toBe(S.SERVING));
    // The app that was already there kept its token.
    expect(h.fake.successfulTokenCalls(APP)).toBe(1);
  });

  it("removes an app: NOT_FOUND, its watchers end with NOT_FOUND, its health entry goes", async () => {
    h = await Harness.start();
    await h.getToken(APP2);
    const watch = h.client.watchToken({ appId: APP2, knownVersion: 0, knownFingerprint: "" });
    const ended = new Promise<ServiceError>((resolve) => watch.on("error", resolve));
    watch.on("data", () => undefined);
    await eventually(() => expect(h!.server.tokens.watcherCount()).toBe(1));
    const result = h.server.reload(configWith([{ appId: APP, secret: SECRETS[APP]! }]));
    expect(result.apps.removed).toEqual([APP2]);
    expect((await ended).code).toBe(status.NOT_FOUND);
    expect((await grpcError(h.getToken(APP2))).code).toBe(status.NOT_FOUND);
    expect(await check(h.port, `wxtoken.v1.TokenService/${APP2}`)).toBe(status.NOT_FOUND);
    expect((await h.getToken(APP)).token?.appId).toBe(APP);
  });

  it("a corrected secret is used at once, without waiting out the credential-error backoff", async () => {
    h = await Harness.start({ config: { apps: [{ appId: APP, secret: "wrong-secret" }] } });
    const err = await grpcError(h.getToken(APP));
    expect(err.code).toBe(status.FAILED_PRECONDITION);
    expect(err.details).toContain("errcode 40125");
    const result = h.server.reload(configWith([{ appId: APP, secret: SECRETS[APP]! }]));
    expect(result.apps.updated).toEqual([APP]);
    // No clock movement: the retry is made at once.
    await eventually(async () => expect((await h!.getToken(APP)).token?.version).toBe(1));
    expect(h.logs.text()).not.toContain(SECRETS[APP]);
  });

  it("says which changes need a restart, and applies none of them", async () => {
    h = await Harness.start();
    const result = h.server.reload(configWith([{ appId: APP, secret: SECRETS[APP]! }, { appId: APP2, secret: SECRETS[APP2]! }], { listen: "127.0.0.1:1", refresh: { marginSeconds: 10 } }));
    expect(result.needsRestart).toEqual(expect.arrayContaining(["listen", "refresh"]));
    expect(result.apps).toEqual({ added: [], removed: [], updated: [] });
  });
});

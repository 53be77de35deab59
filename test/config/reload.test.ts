/** Config reload (SIGHUP): apps and auth change without a restart. */
import { credentials, status, type ServiceError } from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { HealthClient, HealthCheckResponse_ServingStatus as S } from "../../generated/grpc/health/v1/health.js";
import { generateApiKey, hashApiKey } from "../../src/auth/api-key.js";
import { parseConfig, type LoadedConfig } from "../../src/config/load.js";
import { FakeWeChat } from "../../src/fake-wechat/index.js";
import { silentLogger } from "../../src/log.js";
import { WxTokenServer } from "../../src/wxtoken.js";
import { AuthClient } from "../support/auth.js";
import { APP, APP2, collect, eventually, grpcError, Harness, SECRETS } from "../support/harness.js";

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
    const { ended } = collect(h.client.watchToken({ kind: 0, agent: "", platformId: "", appId: APP2, knownVersion: 0, knownFingerprint: "" }));
    await eventually(() => expect(h!.server.tokens.watcherCount()).toBe(1));
    const result = h.server.reload(configWith([{ appId: APP, secret: SECRETS[APP]! }]));
    expect(result.apps.removed).toEqual([APP2]);
    expect((await ended)?.code).toBe(status.NOT_FOUND);
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

  it("ends open watch streams whose key or grant a reload revoked, and keeps the others", async () => {
    const [keepKey, revokeKey, dropKey] = [generateApiKey(), generateApiKey(), generateApiKey()];
    const client = (name: string, key: string, read: string[]) => ({ name, apiKeySha256: hashApiKey(key), read, refresh: name === "keep" ? read : [] });
    const apps = [{ appId: APP, secret: SECRETS[APP]! }, { appId: APP2, secret: SECRETS[APP2]! }];
    h = await Harness.start({ config: { apps, auth: { clients: [client("keep", keepKey, ["*"]), client("revoke", revokeKey, [APP, APP2]), client("drop", dropKey, [APP])] } } });
    const watch = (key: string, appId: string) => {
      const c = new AuthClient(h!.port, { apiKey: key });
      const { messages, ended } = collect(c.raw.watchToken({ kind: 0, agent: "", platformId: "", appId, knownVersion: 0, knownFingerprint: "" }));
      return {
        c,
        get got() {
          return messages.map((m) => m.token!.version);
        },
        ended,
      };
    };
    const kept = watch(keepKey, APP);
    const revoked = watch(revokeKey, APP);
    const stillGranted = watch(revokeKey, APP2);
    const dropped = watch(dropKey, APP);
    await eventually(() => expect([kept, revoked, stillGranted, dropped].map((w) => w.got.length)).toEqual([1, 1, 1, 1]));

    const next = configWith(apps, { auth: { clients: [client("keep", keepKey, ["*"]), client("revoke", revokeKey, [APP2])] } });
    h.server.reload(next);
    expect((await revoked.ended)?.code).toBe(status.PERMISSION_DENIED);
    expect((await dropped.ended)?.code).toBe(status.UNAUTHENTICATED);
    await eventually(() => expect(h!.server.tokens.watcherCount()).toBe(2));
    // The others still get rotations.
    const stale = (await new AuthClient(h.port, { apiKey: keepKey }).getToken(APP)).token!.accessToken;
    await new AuthClient(h.port, { apiKey: keepKey }).forceRefresh(APP, stale);
    await eventually(() => expect(kept.got).toEqual([1, 2]));
    expect(stillGranted.got).toEqual([1]);
    for (const w of [kept, revoked, stillGranted, dropped]) w.c.close();
  });

  it("says which changes need a restart, and applies none of them", async () => {
    h = await Harness.start();
    const result = h.server.reload(configWith([{ appId: APP, secret: SECRETS[APP]! }, { appId: APP2, secret: SECRETS[APP2]! }], { listen: "127.0.0.1:1", refresh: { marginSeconds: 10 } }));
    expect(result.needsRestart).toEqual(expect.arrayContaining(["listen", "refresh"]));
    expect(result.apps).toEqual({ added: [], removed: [], updated: [] });
  });
});

describe("reload on an exposed address", () => {
  it("refuses an auth change that would leave a non-loopback socket open, and keeps the running auth", async () => {
    const fake = new FakeWeChat({ apps: SECRETS });
    await fake.start();
    const key = generateApiKey();
    const apps = [{ appId: APP, secret: SECRETS[APP]! }];
    const auth = { clients: [{ name: "svc", apiKeySha256: hashApiKey(key), read: ["*"] }] };
    const base = { store: { type: "memory" }, upstream: { baseUrl: fake.url }, apps, shutdownGraceMs: 500 };
    const server = await WxTokenServer.create(parseConfig({ ...base, listen: "0.0.0.0:0", auth }), { log: silentLogger });
    const port = await server.listen("0.0.0.0:0");
    const anonymous = new AuthClient(port);
    try {
      expect((await grpcError(anonymous.getToken(APP))).code).toBe(status.UNAUTHENTICATED);
      // The file now says loopback and no auth: but the socket is still on 0.0.0.0.
      expect(() => server.reload(parseConfig({ ...base, listen: "127.0.0.1:50051" }))).toThrow(/config error at auth: listen address 0\.0\.0\.0:0 is not loopback/);
      expect((await grpcError(anonymous.getToken(APP))).code).toBe(status.UNAUTHENTICATED);
      expect((await new AuthClient(port, { apiKey: key }).getToken(APP)).token?.appId).toBe(APP);
      // A key rotation is fine.
      const rotated = generateApiKey();
      server.reload(parseConfig({ ...base, listen: "0.0.0.0:0", auth: { clients: [{ name: "svc", apiKeySha256: hashApiKey(rotated), read: ["*"] }] } }));
      expect((await grpcError(new AuthClient(port, { apiKey: key }).getToken(APP))).code).toBe(status.UNAUTHENTICATED);
      expect((await new AuthClient(port, { apiKey: rotated }).getToken(APP)).token?.appId).toBe(APP);
    } finally {
      anonymous.close();
      await server.shutdown(200);
      await fake.close();
    }
  });
});

describe("reload: an app removed and added back", () => {
  it("comes back with the token it had, not the one from startup, and no upstream call", async () => {
    h = await Harness.start();
    const apps = [{ appId: APP, secret: SECRETS[APP]! }, { appId: APP2, secret: SECRETS[APP2]! }];
    const v1 = (await h.getToken(APP2)).token!;
    const v2 = (await h.forceRefresh(APP2, v1.accessToken)).token!;
    h.server.reload(configWith([apps[0]!]));
    expect((await grpcError(h.getToken(APP2))).code).toBe(status.NOT_FOUND);
    h.server.reload(configWith(apps));
    const back = (await h.getToken(APP2)).token!;
    expect(back.accessToken).toBe(v2.accessToken);
    expect(back.version).toBe(2);
    expect(h.fake.successfulTokenCalls(APP2)).toBe(2);
  });
});

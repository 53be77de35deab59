/**
 * API keys and per-app grants, against the real server on loopback.
 */
import { credentials, Metadata, status } from "@grpc/grpc-js";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { HealthCheckResponse_ServingStatus, HealthClient } from "../../generated/grpc/health/v1/health.js";
import { generateApiKey, hashApiKey } from "../../src/auth/api-key.js";
import { apiKeyInterceptor } from "../../packages/client/src/client-credentials.js";
import { TokenClient } from "../../packages/client/src/token-client.js";
import type { ConfigInput } from "../../src/config/schema.js";
import { AuthClient } from "../support/auth.js";
import { APP, APP2, grpcError, Harness } from "../support/harness.js";

const READER_KEY = generateApiKey();
const ADMIN_KEY = generateApiKey();
const WRONG_KEY = generateApiKey();

const AUTH: ConfigInput["auth"] = {
  clients: [
    { name: "reader", apiKeySha256: hashApiKey(READER_KEY), read: [APP] },
    { name: "admin", apiKeySha256: hashApiKey(ADMIN_KEY).toUpperCase(), read: ["*"], refresh: ["*"] },
  ],
};

let h: Harness;
const clients: AuthClient[] = [];
function client(apiKey?: string): AuthClient {
  const c = new AuthClient(h.port, { apiKey });
  clients.push(c);
  return c;
}

beforeEach(async () => {
  h = await Harness.start({ config: { auth: AUTH }, apiKey: READER_KEY });
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await h.stop();
});

function withAuthorization(value: string): Metadata {
  const md = new Metadata();
  md.set("authorization", value);
  return md;
}

describe("authentication by API key", () => {
  it("serves a client whose key is configured", async () => {
    const { token } = await h.getToken(APP);
    expect(h.fake.isValid(APP, token!.accessToken)).toBe(true);
  });

  it("answers UNAUTHENTICATED without a key", async () => {
    const err = await grpcError(client().getToken(APP));
    expect(err.code).toBe(status.UNAUTHENTICATED);
    expect(err.details).toMatch(/Bearer/);
  });

  it("answers UNAUTHENTICATED for a wrong key", async () => {
    const err = await grpcError(client(WRONG_KEY).getToken(APP));
    expect(err.code).toBe(status.UNAUTHENTICATED);
    expect(err.details).toBe("unknown API key");
  });

  it.each([
    ["another scheme", `Basic ${READER_KEY}`],
    ["no key", "Bearer"],
    ["no scheme", READER_KEY],
    ["two words", `Bearer ${READER_KEY} extra`],
    ["characters a key never has", `Bearer ${READER_KEY}!`],
  ])("answers UNAUTHENTICATED for a malformed authorization header (%s), without echoing it", async (_what, value) => {
    const err = await grpcError(client().getToken(APP, withAuthorization(value)));
    expect(err.code).toBe(status.UNAUTHENTICATED);
    expect(err.details).toMatch(/malformed authorization/);
    expect(err.details).not.toContain(READER_KEY);
  });

  it("works with the client library, the key given as an interceptor", async () => {
    const lib = new TokenClient(`127.0.0.1:${h.port}`, { channelOptions: { interceptors: [apiKeyInterceptor(READER_KEY)] } });
    try {
      expect((await lib.getToken(APP)).appId).toBe(APP);
    } finally {
      lib.close();
    }
  });

  it("accepts the scheme in any case", async () => {
    const { token } = await client().getToken(APP, withAuthorization(`bearer ${READER_KEY}`));
    expect(token?.appId).toBe(APP);
  });

  it("keeps every key out of logs and error messages", async () => {
    await h.getToken(APP);
    await grpcError(client(WRONG_KEY).getToken(APP));
    await grpcError(client().getToken(APP, withAuthorization(`Bearer ${ADMIN_KEY}!`)));
    await grpcError(h.getToken(APP2));
    const logs = h.logs.text();
    expect(logs).toMatch(/UNAUTHENTICATED/); // the failures were logged...
    expect(logs).toMatch(/PERMISSION_DENIED/);
    for (const key of [READER_KEY, ADMIN_KEY, WRONG_KEY]) expect(logs).not.toContain(key); // ...without the keys
  });
});

describe("per-app grants", () => {
  it("answers PERMISSION_DENIED for an app not granted, with the same message as for an app that does not exist", async () => {
    const notGranted = await grpcError(h.getToken(APP2));
    const unknown = await grpcError(h.getToken("wx9999999999999999"));
    expect(notGranted.code).toBe(status.PERMISSION_DENIED);
    expect(unknown.code).toBe(status.PERMISSION_DENIED);
    expect(unknown.details).toBe(notGranted.details);
    expect(notGranted.details).toBe('client "reader" may not read tokens of this app');
  });

  it('lets a "*" grant read every app, and tells it when an app does not exist', async () => {
    const admin = client(ADMIN_KEY);
    const [a, b] = await Promise.all([admin.getToken(APP), admin.getToken(APP2)]);
    expect([a.token?.appId, b.token?.appId]).toEqual([APP, APP2]);
    expect((await grpcError(admin.getToken("wx9999999999999999"))).code).toBe(status.NOT_FOUND);
  });

  it("does not let a read-only client ForceRefresh; a refresh grant does", async () => {
    const { token } = await h.getToken(APP);
    const denied = await grpcError(h.forceRefresh(APP, token!.accessToken));
    expect(denied.code).toBe(status.PERMISSION_DENIED);
    expect(denied.details).toBe('client "reader" may not force a refresh of this app');
    expect(h.fake.successfulTokenCalls(APP)).toBe(1);
    const res = await client(ADMIN_KEY).forceRefresh(APP, token!.accessToken);
    expect(res.refreshed).toBe(true);
    expect(h.fake.successfulTokenCalls(APP)).toBe(2);
  });

  it("authorizes WatchToken like GetToken", async () => {
    const first = await client(READER_KEY).firstWatchMessage(APP);
    expect(first.token?.appId).toBe(APP);
    expect((await grpcError(client().firstWatchMessage(APP))).code).toBe(status.UNAUTHENTICATED);
    expect((await grpcError(client(WRONG_KEY).firstWatchMessage(APP))).code).toBe(status.UNAUTHENTICATED);
    const denied = await grpcError(client(READER_KEY).firstWatchMessage(APP2));
    expect(denied.code).toBe(status.PERMISSION_DENIED);
    expect((await grpcError(client(READER_KEY).firstWatchMessage("wx9999999999999999"))).details).toBe(denied.details);
  });

  it("leaves health open, for load balancers and probes", async () => {
    const health = new HealthClient(`127.0.0.1:${h.port}`, credentials.createInsecure());
    try {
      const res = await new Promise<{ status: HealthCheckResponse_ServingStatus }>((resolve, reject) =>
        health.check({ service: "wxtoken.v1.TokenService" }, (err, r) => (err ? reject(err) : resolve(r))),
      );
      expect(res.status).toBe(HealthCheckResponse_ServingStatus.SERVING);
    } finally {
      health.close();
    }
  });
});

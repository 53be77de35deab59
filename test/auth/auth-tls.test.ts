/**
 * TLS and mutual TLS, against the real server on loopback, with certificates
 * openssl makes at test time in a temp dir.
 */
import { credentials, status } from "@grpc/grpc-js";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { generateApiKey, hashApiKey } from "../../src/auth/api-key.js";
import { parseConfig } from "../../src/config/load.js";
import type { ConfigInput } from "../../src/config/schema.js";
import { silentLogger } from "../../src/log.js";
import { WxTokenServer } from "../../src/wxtoken.js";
import { AuthClient, TestCa, tlsCredentials, type KeyPair } from "../support/auth.js";
import { APP, APP2, grpcError, Harness } from "../support/harness.js";

const KEY = generateApiKey();

let ca: TestCa;
let evilCa: TestCa;
let server: KeyPair;
let orders: KeyPair; // SAN DNS orders.internal
let billing: KeyPair; // SAN URI spiffe://example.org/billing
let stranger: KeyPair; // trusted CA, a name no client has
let impostor: KeyPair; // SAN DNS orders.internal, from a CA the server does not trust
let both: KeyPair; // SANs naming two clients

beforeAll(() => {
  ca = new TestCa("wxtoken-test-ca");
  evilCa = new TestCa("evil-ca");
  server = ca.serverCert();
  orders = ca.issue("orders", "orders", ["DNS:orders.internal"], "clientAuth");
  billing = ca.issue("billing", "billing", ["URI:spiffe://example.org/billing", "DNS:billing.internal"], "clientAuth");
  stranger = ca.issue("stranger", "stranger.internal", [], "clientAuth");
  impostor = evilCa.issue("impostor", "orders", ["DNS:orders.internal"], "clientAuth");
  both = ca.issue("both", "both", ["DNS:orders.internal", "URI:spiffe://example.org/billing"], "clientAuth");
}, 30_000);
afterAll(() => {
  ca.dispose();
  evilCa.dispose();
});

let h: Harness | undefined;
const clients: AuthClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await h?.stop();
  h = undefined;
});

function client(opts: ConstructorParameters<typeof AuthClient>[1]): AuthClient {
  const c = new AuthClient(h!.port, opts);
  clients.push(c);
  return c;
}

const MTLS_AUTH: ConfigInput["auth"] = {
  clients: [
    { name: "orders", certNames: ["orders.internal"], read: [APP], refresh: [APP] },
    { name: "billing", certNames: ["spiffe://example.org/billing"], read: [APP2] },
    { name: "keyed", apiKeySha256: hashApiKey(KEY), read: ["*"] },
  ],
};

function mtls(requireClientCert: boolean): Partial<ConfigInput> {
  return { auth: MTLS_AUTH, tls: { certFile: server.cert, keyFile: server.key, clientCaFile: ca.cert, requireClientCert } };
}

/** A TLS server whose one client has an API key; the harness client connects with it. */
function startKeyedTls(): Promise<Harness> {
  return Harness.start({
    config: { auth: { clients: [{ name: "svc", apiKeySha256: hashApiKey(KEY), read: ["*"] }] }, tls: { certFile: server.cert, keyFile: server.key } },
    clientCredentials: tlsCredentials(ca),
    apiKey: KEY,
  });
}

describe("TLS with API keys", () => {
  it("serves over TLS to a client with the right key, and only over TLS", async () => {
    h = await startKeyedTls();
    const { token } = await h.getToken(APP);
    expect(token?.appId).toBe(APP);
    expect((await grpcError(client({ credentials: tlsCredentials(ca) }).getToken(APP))).code).toBe(status.UNAUTHENTICATED);
    const plaintext = await grpcError(client({ credentials: credentials.createInsecure(), apiKey: KEY }).getToken(APP));
    expect(plaintext.code).toBe(status.UNAVAILABLE);
  });

  it("checks the server's certificate against the address, or the name the client expects", async () => {
    h = await startKeyedTls();
    expect((await client({ credentials: tlsCredentials(ca), apiKey: KEY, tlsServerName: "localhost" }).getToken(APP)).token?.appId).toBe(APP);
    const wrongName = await grpcError(client({ credentials: tlsCredentials(ca), apiKey: KEY, tlsServerName: "wxtoken.example" }).getToken(APP));
    expect(wrongName.code).toBe(status.UNAVAILABLE);
    expect((await grpcError(client({ credentials: tlsCredentials(evilCa), apiKey: KEY }).getToken(APP))).code).toBe(status.UNAVAILABLE);
  });
});

describe("mutual TLS", () => {
  it("identifies a client by its certificate's SAN DNS name and applies its grants", async () => {
    h = await Harness.start({ config: mtls(false) });
    const c = client({ credentials: tlsCredentials(ca, orders) });
    const { token } = await c.getToken(APP);
    expect(h.fake.isValid(APP, token!.accessToken)).toBe(true);
    expect((await c.forceRefresh(APP, token!.accessToken)).refreshed).toBe(true);
    const denied = await grpcError(c.getToken(APP2));
    expect(denied.code).toBe(status.PERMISSION_DENIED);
    expect(denied.details).toBe('client "orders" may not read tokens of this app');
  });

  it("identifies a client by a SAN URI (a SPIFFE ID), for WatchToken too", async () => {
    h = await Harness.start({ config: mtls(false) });
    const c = client({ credentials: tlsCredentials(ca, billing) });
    expect((await c.firstWatchMessage(APP2)).token?.appId).toBe(APP2);
    expect((await grpcError(c.getToken(APP))).code).toBe(status.PERMISSION_DENIED);
  });

  it("rejects a trusted certificate whose names no client has", async () => {
    h = await Harness.start({ config: mtls(false) });
    const err = await grpcError(client({ credentials: tlsCredentials(ca, stranger) }).getToken(APP));
    expect(err.code).toBe(status.UNAUTHENTICATED);
    expect(err.details).toContain('"stranger.internal"');
  });

  it("rejects a certificate that names two clients, rather than pick one", async () => {
    h = await Harness.start({ config: mtls(false) });
    const err = await grpcError(client({ credentials: tlsCredentials(ca, both) }).getToken(APP));
    expect(err.code).toBe(status.UNAUTHENTICATED);
    expect(err.details).toMatch(/matches more than one client/);
  });

  it("ignores a certificate from an untrusted CA, even with a configured name", async () => {
    h = await Harness.start({ config: mtls(false) });
    const err = await grpcError(client({ credentials: tlsCredentials(ca, impostor) }).getToken(APP));
    expect(err.code).toBe(status.UNAUTHENTICATED);
    expect(err.details).toMatch(/no credentials/);
  });

  it("accepts an API key instead of a certificate, but a presented key must be right", async () => {
    h = await Harness.start({ config: mtls(false) });
    expect((await client({ credentials: tlsCredentials(ca), apiKey: KEY }).getToken(APP2)).token?.appId).toBe(APP2);
    const wrongKey = await grpcError(client({ credentials: tlsCredentials(ca, orders), apiKey: generateApiKey() }).getToken(APP));
    expect(wrongKey.code).toBe(status.UNAUTHENTICATED);
    expect((await grpcError(client({ credentials: tlsCredentials(ca) }).getToken(APP))).code).toBe(status.UNAUTHENTICATED);
  });

  it("with requireClientCert, refuses the handshake without a trusted certificate", async () => {
    h = await Harness.start({ config: mtls(true), clientCredentials: tlsCredentials(ca, orders) });
    expect((await h.getToken(APP)).token?.appId).toBe(APP);
    expect((await grpcError(client({ credentials: tlsCredentials(ca, impostor) }).getToken(APP))).code).toBe(status.UNAVAILABLE);
    expect((await grpcError(client({ credentials: tlsCredentials(ca), apiKey: KEY }).getToken(APP))).code).toBe(status.UNAVAILABLE);
  });
});

describe("TLS files", () => {
  async function listenWith(tls: ConfigInput["tls"]): Promise<unknown> {
    const loaded = parseConfig({ store: { type: "memory" }, apps: [{ appId: APP, secret: "x" }], tls });
    const s = await WxTokenServer.create(loaded, { log: silentLogger });
    try {
      await s.listen("127.0.0.1:0");
      return undefined;
    } catch (err) {
      return err;
    } finally {
      await s.shutdown(100);
    }
  }

  it("names the key of a file that cannot be read", async () => {
    const err = await listenWith({ certFile: join(ca.dir, "nope.crt"), keyFile: server.key });
    expect(String(err)).toMatch(/config error at tls\.certFile: cannot read .*nope\.crt: ENOENT/);
  });

  it("names the key when the private key does not belong to the certificate", async () => {
    const err = await listenWith({ certFile: server.cert, keyFile: orders.key });
    expect(String(err)).toMatch(/config error at tls\.keyFile/);
  });

  it("names the key when the client CA is not a certificate", async () => {
    const junk = join(ca.dir, "junk.pem");
    writeFileSync(junk, "not a certificate\n");
    const err = await listenWith({ certFile: server.cert, keyFile: server.key, clientCaFile: junk });
    expect(String(err)).toMatch(/config error at tls\.clientCaFile/);
  });
});

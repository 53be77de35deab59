/**
 * The HTTP API with the `tls` section: HTTPS with the server's certificate,
 * and a verified client certificate identifying the caller exactly as it does
 * on the gRPC port (mutual TLS), with the same grants.
 */
import { readFileSync } from "node:fs";
import { Agent, request } from "undici";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { TestCa, type KeyPair } from "../support/auth.js";
import { APP, APP2, Harness } from "../support/harness.js";

let ca: TestCa;
let server: KeyPair;
let reader: KeyPair;
let stranger: KeyPair;
let h: Harness | undefined;
beforeAll(() => {
  ca = new TestCa("http-tls-ca");
  server = ca.serverCert();
  reader = ca.issue("reader", "reader-svc", ["URI:spiffe://example.org/reader"], "clientAuth");
  stranger = ca.issue("stranger", "someone-else", [], "clientAuth");
}, 30_000);
afterAll(() => ca.dispose());
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

function agent(client?: KeyPair): Agent {
  return new Agent({
    connect: { ca: readFileSync(ca.cert), servername: "localhost", ...(client ? { cert: readFileSync(client.cert), key: readFileSync(client.key) } : {}) },
  });
}

describe("the HTTP API over TLS", () => {
  it("serves HTTPS and takes a verified client certificate as the caller, with its grants", async () => {
    h = await Harness.start({
      config: {
        http: { listen: "127.0.0.1:0" },
        tls: { certFile: server.cert, keyFile: server.key, clientCaFile: ca.cert },
        auth: { clients: [{ name: "reader-svc", certNames: ["spiffe://example.org/reader"], read: [APP] }] },
      },
    });
    const base = `https://127.0.0.1:${h.server.httpPort}`;
    const get = async (path: string, client?: KeyPair) => {
      const dispatcher = agent(client);
      try {
        const res = await request(`${base}${path}`, { dispatcher });
        return { status: res.statusCode, json: (await res.body.json()) as Record<string, any> };
      } finally {
        await dispatcher.close();
      }
    };
    const ok = await get(`/v1/apps/${APP}/token`, reader);
    expect(ok.status).toBe(200);
    expect(ok.json.token.appId).toBe(APP);
    // The same grants as on gRPC: APP2 is not the reader's.
    expect((await get(`/v1/apps/${APP2}/token`, reader)).status).toBe(403);
    // No certificate, or one naming nobody configured: not authenticated.
    expect((await get(`/v1/apps/${APP}/token`)).json.details[0].reason).toBe("UNAUTHENTICATED");
    expect((await get(`/v1/apps/${APP}/token`, stranger)).status).toBe(401);
    // Plain HTTP to the TLS port gets nowhere.
    await expect(request(`http://127.0.0.1:${h.server.httpPort}/v1/apps/${APP}/token`)).rejects.toThrow();
  });
});

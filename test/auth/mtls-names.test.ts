/**
 * Which certificate names identify a client (issue 18, item 6): crafted
 * client certificates, made with openssl at test time, over real TLS on the
 * gRPC port and the HTTP API. A URI SAN matches only a URI certNames entry, a
 * DNS SAN only a DNS one, and the subject CN only a client with
 * allowCommonName, and only in a certificate without DNS or URI SANs.
 */
import { readFileSync } from "node:fs";
import { Agent, request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuthClient, TestCa, tlsCredentials, type KeyPair } from "../support/auth.js";
import { APP, grpcError, Harness } from "../support/harness.js";

/** An appid no client may read: the denial names the client the certificate was taken for. */
const NOBODYS = "wx9999999999999999";

interface Case {
  what: string;
  cn: string;
  san: string[];
  /** The client it is taken for; undefined: refused (UNAUTHENTICATED / 401). */
  as: string | undefined;
}

const CASES: Case[] = [
  { what: "a SPIFFE ID only in the CN, no SAN", cn: "spiffe://example.org/billing", san: [], as: undefined },
  { what: "a URI SAN", cn: "whatever", san: ["URI:spiffe://example.org/billing"], as: "billing" },
  { what: "a DNS SAN", cn: "whatever", san: ["DNS:orders.internal"], as: "orders" },
  { what: "a DNS SAN with the text of a URI name", cn: "whatever", san: ["DNS:spiffe://example.org/billing"], as: undefined },
  { what: "a URI SAN with the text of a DNS name", cn: "whatever", san: ["URI:orders.internal"], as: undefined },
  { what: "a CN naming a client without allowCommonName", cn: "orders.internal", san: [], as: undefined },
  { what: "a CN naming a client with allowCommonName, no SAN", cn: "legacy.internal", san: [], as: "legacy" },
  { what: "that CN beside a DNS SAN no client has", cn: "legacy.internal", san: ["DNS:other.internal"], as: undefined },
  { what: "that CN beside another client's URI SAN", cn: "legacy.internal", san: ["URI:spiffe://example.org/billing"], as: "billing" },
  { what: "that CN beside an IP SAN (not a name type)", cn: "legacy.internal", san: ["IP:10.0.0.1"], as: "legacy" },
];

let ca: TestCa;
let serverCert: KeyPair;
const certs = new Map<Case, KeyPair>();
let h: Harness;

beforeAll(async () => {
  ca = new TestCa("names-ca");
  serverCert = ca.serverCert();
  CASES.forEach((c, i) => certs.set(c, ca.issue(`case${i}`, c.cn, c.san, "clientAuth")));
  h = await Harness.start({
    config: {
      http: { listen: "127.0.0.1:0" },
      tls: { certFile: serverCert.cert, keyFile: serverCert.key, clientCaFile: ca.cert },
      auth: {
        clients: [
          // allowCommonName on, with a DNS name too: its URI name still never matches a CN.
          { name: "billing", certNames: ["spiffe://example.org/billing", "billing.internal"], allowCommonName: true, read: [APP] },
          { name: "orders", certNames: ["orders.internal"], read: [APP] },
          { name: "legacy", certNames: ["legacy.internal"], allowCommonName: true, read: [APP] },
        ],
      },
    },
  });
}, 30_000);
afterAll(async () => {
  await h?.stop();
  ca?.dispose();
});

/** The client name the gRPC port took the certificate for, or undefined when it refused it. */
async function grpcIdentity(cert: KeyPair): Promise<string | undefined> {
  const client = new AuthClient(h.port, { credentials: tlsCredentials(ca, cert) });
  try {
    const err = await grpcError(client.getToken(NOBODYS));
    if (err.details.startsWith("client certificate (")) return undefined;
    const named = /^client "([^"]+)" may not read tokens of this app$/.exec(err.details);
    if (!named) throw new Error(`unexpected answer: ${err.code} ${err.details}`);
    // Taken for that client: it reads what it is granted.
    expect((await client.getToken(APP)).token?.appId).toBe(APP);
    return named[1];
  } finally {
    client.close();
  }
}

/** The same over the HTTP API. */
async function httpIdentity(cert: KeyPair): Promise<string | undefined> {
  const dispatcher = new Agent({ connect: { ca: readFileSync(ca.cert), servername: "localhost", cert: readFileSync(cert.cert), key: readFileSync(cert.key) } });
  try {
    const res = await request(`https://127.0.0.1:${h.server.httpPort}/v1/apps/${NOBODYS}/token`, { dispatcher });
    const body = (await res.body.json()) as { message: string };
    if (res.statusCode === 401) return undefined;
    const named = /^client "([^"]+)" may not read tokens of this app$/.exec(body.message);
    if (res.statusCode !== 403 || !named) throw new Error(`unexpected answer: ${res.statusCode} ${body.message}`);
    return named[1];
  } finally {
    await dispatcher.close();
  }
}

describe("certificate names by type, over gRPC", () => {
  it.each(CASES)("$what: $as", async (c) => {
    expect(await grpcIdentity(certs.get(c)!)).toBe(c.as);
  });

  it("says why a CN-only certificate is refused", async () => {
    const client = new AuthClient(h.port, { credentials: tlsCredentials(ca, certs.get(CASES[0]!)!) });
    try {
      const err = await grpcError(client.getToken(APP));
      expect(err.details).toBe(
        'client certificate (CN "spiffe://example.org/billing") is not configured for any client; a subject CN counts only for a client with allowCommonName',
      );
    } finally {
      client.close();
    }
  });
});

describe("certificate names by type, over the HTTP API", () => {
  it.each(CASES)("$what: $as", async (c) => {
    expect(await httpIdentity(certs.get(c)!)).toBe(c.as);
  });
});

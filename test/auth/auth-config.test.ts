/**
 * The auth/tls/insecure config keys, the refusal to serve an exposed address
 * unauthenticated, and the pieces underneath (API key hashing and parsing,
 * certificate names, `wxtoken hash-key`).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ApiKeyTable, bearerKey, generateApiKey, hashApiKey } from "../../src/auth/api-key.js";
import { exposureWarnings, isLoopbackAddress } from "../../src/auth/exposure.js";
import { hashKeyCommand } from "../../src/auth/hash-key-command.js";
import { certificateNames, certNameType, parseSubjectAltName } from "../../src/auth/peer-names.js";
import { ConfigError, loadConfigFile, parseConfig } from "../../src/config/load.js";
import { silentLogger } from "../../src/log.js";
import { WxTokenServer } from "../../src/wxtoken.js";
import { UnauthenticatedError } from "../../src/errors.js";
import { tempDir } from "../support/harness.js";

const APPS = [{ appId: "wx1", secret: "x" }];
const KEY_HASH = hashApiKey("k".repeat(43));
const CLIENT = { name: "svc", apiKeySha256: KEY_HASH, read: ["*"] };

function errorOf(raw: Record<string, unknown>): string {
  try {
    parseConfig({ apps: APPS, ...raw });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error("expected a ConfigError");
}

describe("refusing to serve an exposed address unauthenticated", () => {
  it.each(["0.0.0.0:50051", "[::]:50051", "10.1.2.3:50051", "wxtoken.internal:50051", "[::ffff:10.0.0.1]:50051", "dns:0.0.0.0:50051"])(
    "refuses %s with no auth and no TLS, naming the insecure key",
    (listen) => {
      expect(errorOf({ listen })).toMatch(/^config error at insecure: listen address .* is not loopback .*"insecure": true/);
    },
  );

  it("refuses TLS without client authentication too: encryption alone lets anyone read tokens", () => {
    expect(errorOf({ listen: "0.0.0.0:50051", tls: { certFile: "c", keyFile: "k" } })).toMatch(/config error at insecure/);
  });

  it.each([
    ["insecure: true", { insecure: true }],
    ["auth", { auth: { clients: [CLIENT] } }],
    ["required client certificates", { tls: { certFile: "c", keyFile: "k", clientCaFile: "ca", requireClientCert: true } }],
  ])("allows a non-loopback address with %s", (_what, extra) => {
    expect(parseConfig({ apps: APPS, listen: "0.0.0.0:50051", ...extra }).config.listen).toBe("0.0.0.0:50051");
  });

  it.each(["127.0.0.1:50051", "127.8.9.10:1", "[::1]:50051", "localhost:50051", "LOCALHOST:1", "[::ffff:127.0.0.1]:1", "unix:/tmp/wxtoken.sock"])(
    "allows loopback %s with no auth",
    (listen) => {
      expect(isLoopbackAddress(listen)).toBe(true);
      expect(parseConfig({ apps: APPS, listen }).config.listen).toBe(listen);
    },
  );

  it("refuses a config file that exposes the server (serve exits 78 on a ConfigError)", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "wxtoken.json"), JSON.stringify({ listen: "0.0.0.0:50051", apps: APPS }));
    expect(() => loadConfigFile(join(dir, "wxtoken.json"))).toThrow(/config error at insecure/);
  });

  it("warns about API keys in clear text and about metrics reachable from other machines", () => {
    const keys = { insecure: false, auth: { clients: [{ apiKeySha256: "a".repeat(64) }] } };
    expect(exposureWarnings(keys, "0.0.0.0:50051")).toEqual([expect.stringMatching(/API keys cross the network in clear text/)]);
    expect(exposureWarnings(keys, "127.0.0.1:50051")).toEqual([]);
    const metrics = (listen: string, insecure = false) => exposureWarnings({ insecure, metrics: { listen } }, "127.0.0.1:50051");
    expect(metrics("0.0.0.0:9464")).toEqual([expect.stringMatching(/metrics on 0\.0\.0\.0:9464 have no authentication/)]);
    expect(metrics("127.0.0.1:9464")).toEqual([]);
    expect(metrics("0.0.0.0:9464", true)).toEqual([]);
  });

  describe("an exposed --listen override at serve time", () => {
    let server: WxTokenServer | undefined;
    afterEach(async () => {
      await server?.shutdown(100);
      server = undefined;
    });

    it("is refused without authentication", async () => {
      server = await WxTokenServer.create(parseConfig({ apps: APPS, store: { type: "memory" } }), { log: silentLogger });
      await expect(server.listen("0.0.0.0:0")).rejects.toThrow(/config error at insecure: listen address 0\.0\.0\.0:0/);
      expect(server.boundPort).toBe(0);
    });

    it("is allowed with insecure: true", async () => {
      server = await WxTokenServer.create(parseConfig({ apps: APPS, store: { type: "memory" }, insecure: true }), { log: silentLogger });
      expect(await server.listen("0.0.0.0:0")).toBeGreaterThan(0);
    });
  });
});

describe("auth and tls config", () => {
  it.each([
    [{ auth: { clients: [{ ...CLIENT, apiKeySha256: "wxt_the-key-itself" }] } }, /auth\.clients\[0\]\.apiKeySha256: must be the 64 hex digits/],
    [{ auth: { clients: [{ ...CLIENT, apiKey: "wxt_x" }] } }, /auth\.clients\[0\].*"apiKey"/],
    [{ auth: { clients: [{ name: "svc", read: ["*"] }] } }, /auth\.clients\[0\]: give apiKeySha256, certNames or both/],
    [{ auth: { clients: [] } }, /auth\.clients: configure at least one client/],
    [{ auth: { clients: [CLIENT, { ...CLIENT, apiKeySha256: hashApiKey("other") }] } }, /auth\.clients\[1\]\.name: duplicate client name "svc"/],
    [{ auth: { clients: [CLIENT, { ...CLIENT, name: "svc2" }] } }, /auth\.clients\[1\]\.apiKeySha256: the same key as clients\[0\]/],
    [{ auth: { clients: [{ ...CLIENT, read: ["wx1"], refresh: ["wx1", "wx2"] }] } }, /auth\.clients\[0\]\.refresh\[1\]: "wx2" is not in read/],
    [{ auth: { clients: [{ ...CLIENT, read: ["wx 1"] }] } }, /auth\.clients\[0\]\.read\[0\]/],
    [{ auth: { clients: [{ name: "svc", certNames: ["svc.internal"], read: ["*"] }] } }, /auth\.clients\[0\]\.certNames: client certificates need tls\.clientCaFile/],
    [{ auth: { clients: [{ name: "svc", certNames: ["URI:spiffe://x/svc"], read: ["*"] }] } }, /auth\.clients\[0\]\.certNames\[0\]: is written without a type prefix/],
    [{ auth: { clients: [{ name: "svc", certNames: ["DNS:svc.internal"], read: ["*"] }] } }, /auth\.clients\[0\]\.certNames\[0\]: is written without a type prefix/],
    [{ auth: { clients: [{ name: "svc", certNames: ["svc.internal", "[::1]:1"], read: ["*"] }] } }, /auth\.clients\[0\]\.certNames\[1\]: has a colon but no URI scheme/],
    [{ auth: { clients: [{ name: "svc", certNames: ["spiffe://x/svc"], allowCommonName: true, read: ["*"] }] } }, /auth\.clients\[0\]\.allowCommonName: needs a certNames entry that is not a URI/],
    [{ tls: { certFile: "c", keyFile: "k", requireClientCert: true } }, /tls\.requireClientCert: needs tls\.clientCaFile/],
    [{ tls: { certFile: "c" } }, /tls\.keyFile/],
    [{ insecure: "yes" }, /at insecure/],
  ])("rejects a bad auth/tls section, naming the key (%#)", (raw, message) => {
    expect(errorOf(raw)).toMatch(message);
  });

  it("accepts a key hash in either case, and warns about a grant for an app that is not configured", () => {
    const { config, warnings } = parseConfig({
      apps: APPS,
      auth: { clients: [{ ...CLIENT, apiKeySha256: KEY_HASH.toUpperCase(), read: ["wx1", "wx9"] }] },
    });
    expect(config.auth?.clients[0]?.apiKeySha256).toBe(KEY_HASH);
    expect(warnings.filter((w) => w.startsWith("auth"))).toEqual(['auth.clients[0].read[1] grants "wx9", which is not a configured app']);
  });

  it("resolves tls paths relative to the config file", () => {
    const dir = tempDir();
    mkdirSync(join(dir, "tls"));
    writeFileSync(join(dir, "wxtoken.json"), JSON.stringify({ apps: APPS, tls: { certFile: "tls/server.crt", keyFile: "/abs/server.key" } }));
    const { tls } = loadConfigFile(join(dir, "wxtoken.json"));
    expect(tls).toEqual({ certFile: join(dir, "tls/server.crt"), keyFile: "/abs/server.key", requireClientCert: false, reloadSeconds: 300 });
  });
});

describe("API keys", () => {
  it("hashes with sha256 (hex), as the config expects", () => {
    expect(hashApiKey("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  });

  it("generates distinct prefixed keys with 256 random bits", () => {
    const keys = new Set(Array.from({ length: 100 }, generateApiKey));
    expect(keys.size).toBe(100);
    for (const k of keys) expect(k).toMatch(/^wxt_[A-Za-z0-9_-]{43}$/);
  });

  it("reads the key from a Bearer header and rejects anything else", () => {
    expect(bearerKey(undefined)).toBeUndefined();
    expect(bearerKey("Bearer abc.DEF_-~+/==")).toBe("abc.DEF_-~+/==");
    expect(bearerKey("BEARER   abc")).toBe("abc");
    for (const bad of ["Bearer", "Bearer a b", "Token abc", Buffer.from("Bearer abc"), `Bearer ${"a".repeat(2000)}`]) {
      expect(() => bearerKey(bad)).toThrow(UnauthenticatedError);
    }
  });

  it("finds the entry whose hash matches, and nothing for another key", () => {
    const table = new ApiKeyTable<string>();
    table.add(hashApiKey("key-one"), "one");
    table.add(hashApiKey("key-two").toUpperCase(), "two");
    expect(table.find("key-two")).toBe("two");
    expect(table.find("key-one")).toBe("one");
    expect(table.find("key-three")).toBeUndefined();
  });

  it("hash-key generates a key and prints it with its sha256", () => {
    let out = "";
    let err = "";
    hashKeyCommand(undefined, { write: (s: string) => (out += s) }, { write: (s: string) => (err += s) });
    const [, key, hash] = /^key: (\S+)\napiKeySha256: ([0-9a-f]{64})\n$/.exec(out) ?? [];
    expect(key).toMatch(/^wxt_/);
    expect(hash).toBe(hashApiKey(key!));
    expect(err).toMatch(/auth\.clients/);
    expect(err).not.toMatch(/warning/);
  });

  it("hash-key hashes a given key, and warns when it is short enough to guess", () => {
    let out = "";
    let err = "";
    hashKeyCommand("hunter2", { write: (s: string) => (out += s) }, { write: (s: string) => (err += s) });
    expect(out).toBe(`key: hunter2\napiKeySha256: ${hashApiKey("hunter2")}\n`);
    expect(err).toMatch(/warning: a 7-character key can be guessed/);
  });
});

describe("certificate names", () => {
  it("keeps each name with its type: SAN URIs, SAN DNS names, the subject CN; not IP addresses or emails", () => {
    const names = certificateNames({
      subject: { CN: "svc" } as never,
      subjectaltname: "DNS:svc.internal, URI:spiffe://example.org/svc, IP Address:10.0.0.1, email:a@b.c, DNS:spiffe://example.org/other",
    });
    expect(names).toEqual({ uris: ["spiffe://example.org/svc"], dnsNames: ["svc.internal", "spiffe://example.org/other"], commonNames: ["svc"] });
  });

  it("reads a configured name with a scheme as a URI, any other as a DNS name", () => {
    expect(["spiffe://example.org/svc", "urn:example:svc", "svc.internal", "svc", "Billing Service", "1svc:x"].map(certNameType)).toEqual([
      "uri",
      "uri",
      "dns",
      "dns",
      "dns",
      undefined,
    ]);
  });

  it("does not let a quoted SAN value smuggle in a second name", () => {
    expect(parseSubjectAltName('DNS:a.internal, URI:"spiffe://x/y, DNS:admin"')).toEqual([
      { type: "DNS", value: "a.internal" },
      { type: "URI", value: "spiffe://x/y, DNS:admin" },
    ]);
  });
});

/**
 * The Redis store over TLS to a real redis-server that serves only TLS: with
 * the CA from store.tls.caFile it works; without, the certificate is refused
 * and the refresh error says why.
 */
import { status } from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { TestCa } from "../support/auth.js";
import { APP, freePort, grpcError, Harness } from "../support/harness.js";
import { OwnRedis, uniquePrefix } from "../support/redis.js";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function tlsRedis(ca: TestCa): Promise<OwnRedis> {
  const server = ca.serverCert();
  const port = await freePort();
  // TLS on the port, the plaintext port off.
  const redis = await OwnRedis.start(["--port", "0", "--tls-port", String(port), "--tls-cert-file", server.cert, "--tls-key-file", server.key, "--tls-ca-cert-file", ca.cert, "--tls-auth-clients", "no"], port);
  cleanups.push(() => redis.kill());
  return redis;
}

describe("the Redis store over TLS", () => {
  it("verifies Redis's certificate against store.tls.caFile, and says so when it cannot", async () => {
    const ca = new TestCa("redis test CA");
    cleanups.push(() => ca.dispose());
    const redis = await tlsRedis(ca);
    const url = `rediss://127.0.0.1:${redis.port}`;

    const trusting = await Harness.start({ config: { store: { type: "redis", url, tls: { caFile: ca.cert }, keyPrefix: uniquePrefix() } } });
    cleanups.push(() => trusting.stop());
    expect((await trusting.getToken(APP)).token?.version).toBe(1);

    const distrusting = await Harness.start({ config: { store: { type: "redis", url, keyPrefix: uniquePrefix() } } });
    cleanups.push(() => distrusting.stop());
    // A deadline before the next attempt: answered at once.
    const err = await grpcError(distrusting.getToken(APP, 600));
    expect(err.code).toBe(status.UNAVAILABLE);
    expect(err.details).toMatch(/shared store rediss:\/\/127\.0\.0\.1:\d+\/? unreachable: .*certificate/);
  });
});

/**
 * The server drops every connection at its max connection age (30 minutes in
 * production). Each reconnect sends known_version and so gets no token; it
 * must still count as healthy, or the reconnect delay doubles every drop.
 */
import { Server, ServerCredentials } from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { TokenServiceService } from "../../generated/wxtoken/v1/token_service.js";
import { TokenSource } from "../../src/index.js";
import { APP, eventually, Harness } from "../support/harness.js";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** The harness's token service on a second gRPC server whose connections age out within a fraction of a second. */
async function agingServer(h: Harness): Promise<number> {
  const server = new Server({ "grpc.max_connection_age_ms": 200, "grpc.max_connection_age_grace_ms": 50 });
  server.addService(TokenServiceService, h.server.tokens.handlers());
  cleanups.push(() => server.forceShutdown());
  return new Promise((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))),
  );
}

describe("TokenSource reconnect backoff", () => {
  it("starts again from the base delay after each stream the server accepted, even one that brought no token", async () => {
    const h = await Harness.start();
    cleanups.push(() => h.stop());
    const port = await agingServer(h);
    const s = await TokenSource.create({
      address: `127.0.0.1:${port}`,
      appId: APP,
      clock: h.clock,
      random: () => 0.5, // no jitter: delays are exact
      // grpc-js's own (real-time) reconnect backoff after a dropped connection: keep it short.
      clientOptions: { channelOptions: { "grpc.initial_reconnect_backoff_ms": 20, "grpc.max_reconnect_backoff_ms": 50 } },
    });
    cleanups.push(() => s.close());
    const delays: number[] = [];
    s.onError((_err, retryInMs) => delays.push(retryInMs));

    for (let drop = 1; drop <= 3; drop++) {
      await eventually(() => expect(delays).toHaveLength(drop));
      // Reconnect (with known_version 1: the server has nothing newer to send).
      await h.clock.advance(delays.at(-1)!);
    }
    expect(delays).toEqual([1000, 1000, 1000]);
    expect(s.current().version).toBe(1);
    expect(h.fake.successfulTokenCalls(APP)).toBe(1);
  });
});

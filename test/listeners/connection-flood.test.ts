/**
 * Connection floods on every listener (issue 18, item 2): idle connections
 * that need no key to open used to take every file descriptor, and with them
 * every listener and the store. Now each listener is capped, and a full one
 * closes the connection idle the longest for each new one: an authenticated
 * client still gets tokens over gRPC and HTTP, and a genuine push is stored,
 * while the flood goes on.
 *
 * The issue held 20,000 connections. Here the test process holds both ends
 * of every connection, which would take 40,000 descriptors (the limit here is
 * 20,000): the caps are small instead, and each port gets cap + FLOOD_EXTRA.
 * What matters is the same: more connections than the cap, on every port.
 */
import { credentials, Metadata } from "@grpc/grpc-js";
import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { TokenServiceClient, type GetTokenResponse } from "../../generated/wxtoken/v1/token_service.js";
import { clientOptions } from "../../packages/client/src/client-credentials.js";
import { hashApiKey } from "../../src/auth/api-key.js";
import { APP, eventually } from "../support/harness.js";
import { COMPONENT, PlatformHarness } from "../support/platform.js";
import { IdleFlood, sample } from "../support/flood.js";

const KEY = "wxt_connection-flood-test-key-0123456789abcdef";
const CAPS = { grpc: 30, http: 30, receiver: 20, metrics: 10 } as const;
const FLOOD_EXTRA = 15;

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function platform(): Promise<PlatformHarness> {
  const p = await PlatformHarness.start({
    apps: [{ appId: APP, secretEnv: `SECRET_${APP}` }],
    apiKey: KEY,
    config: {
      auth: { clients: [{ name: "svc", apiKeySha256: hashApiKey(KEY), read: ["*"] }] },
      http: { listen: "127.0.0.1:0" },
      metrics: { listen: "127.0.0.1:0" },
      connections: {
        grpc: { maxConnections: CAPS.grpc },
        http: { maxConnections: CAPS.http },
        receiver: { maxConnections: CAPS.receiver },
        metrics: { maxConnections: CAPS.metrics },
      },
    },
  });
  cleanups.push(() => p.stop());
  return p;
}

function getToken(port: number, appId: string): Promise<GetTokenResponse> {
  const client = new TokenServiceClient(`127.0.0.1:${port}`, credentials.createInsecure(), clientOptions({ apiKey: KEY }));
  cleanups.push(() => client.close());
  return new Promise((resolve, reject) =>
    client.getToken({ kind: 0, agent: "", platformId: "", appId }, new Metadata(), { deadline: Date.now() + 5000 }, (err, res) => (err ? reject(err) : resolve(res))),
  );
}

describe("a connection flood on every listener", () => {
  it("leaves an authenticated client its tokens over gRPC and HTTP, and stores a genuine push", async () => {
    const p = await platform();
    const server = p.h.server;
    // Settled first: the platform has its ticket and component token, so no push of its own lands in the flood.
    expect(await p.fake.component.pushTicket()).toMatchObject({ status: 200, body: "success" });
    await eventually(async () => {
      await p.clock.advance(0);
      expect((await p.h.getToken(COMPONENT, 300)).token!.appId).toBe(COMPONENT);
    });
    const ports = { grpc: p.h.port, http: server.httpPort!, receiver: server.receiverPort!, metrics: server.metricsPort! };

    const floods = new Map<keyof typeof CAPS, IdleFlood>();
    for (const listener of Object.keys(CAPS) as (keyof typeof CAPS)[]) {
      const flood = await IdleFlood.open(ports[listener], CAPS[listener] + FLOOD_EXTRA);
      cleanups.push(() => flood.destroy());
      floods.set(listener, flood);
    }
    // Each connection that filled a listener closed the one idle the longest: the
    // cap's last place is kept free, so every connection past cap - 1 cost one.
    for (const [listener, flood] of floods) await eventually(() => expect({ listener, closed: flood.closed }).toEqual({ listener, closed: FLOOD_EXTRA + 1 }));
    const during = await server.metrics!.scrape();
    for (const listener of Object.keys(CAPS)) {
      expect(sample(during, "wxtoken_connections_max", { listener })).toBe(CAPS[listener as keyof typeof CAPS]);
      expect(sample(during, "wxtoken_connections_refused_total", { listener })).toBe(0);
      expect(sample(during, "wxtoken_connections_evicted_total", { listener })).toBeGreaterThanOrEqual(FLOOD_EXTRA + 1);
      expect(sample(during, "wxtoken_connections", { listener })).toBeLessThanOrEqual(CAPS[listener as keyof typeof CAPS]);
    }

    // gRPC, on a new connection, with the key.
    expect((await getToken(ports.grpc, APP)).token!.appId).toBe(APP);
    // HTTP, on a new connection, with the key.
    const res = await request(`http://127.0.0.1:${ports.http}/v1/apps/${APP}/token`, { headers: { authorization: `Bearer ${KEY}` }, reset: true });
    expect(res.statusCode).toBe(200);
    expect(((await res.body.json()) as { token: { appId: string } }).token.appId).toBe(APP);
    // A genuine push, stored.
    const stored = (text: string) => sample(text, "wxtoken_platform_pushes_total", { component: COMPONENT, info_type: "component_verify_ticket", result: "stored" }) ?? 0;
    const storedBefore = stored(await server.metrics!.scrape());
    expect(await p.fake.component.pushTicket()).toMatchObject({ status: 200, body: "success" });
    expect(stored(await server.metrics!.scrape())).toBe(storedBefore + 1);
    // And a scrape over the flooded metrics port.
    const scrape = await request(`http://127.0.0.1:${ports.metrics}/metrics`, { reset: true });
    expect(scrape.statusCode).toBe(200);
    expect(sample(await scrape.body.text(), "wxtoken_connections_refused_total", { listener: "metrics" })).toBe(0);

    // One warn line per listener when it filled, not one per connection; nothing at error level.
    const full = p.h.logs.lines.filter((l) => l.includes("listener full"));
    expect(full.map((l) => JSON.parse(l).listener).sort()).toEqual(["grpc", "http", "metrics", "receiver"]);
    expect(p.h.logs.lines.filter((l) => JSON.parse(l).level >= 50)).toEqual([]);
  }, 30_000);
});

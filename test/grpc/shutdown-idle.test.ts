/**
 * Shutdown does not wait for idle connections: a client that keeps its
 * connection open after the GOAWAY (grpcio does for a while, a TCP probe for
 * ever) is closed at once, while a call in flight still gets the grace period.
 */
import { connect } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { GetTokenRequest, GetTokenResponse } from "../../generated/wxtoken/v1/token_service.js";
import { APP, eventually, Harness } from "../support/harness.js";
import { RawH2Client } from "../support/raw-h2.js";

const GRACE_MS = 30_000;

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function server(): Promise<Harness> {
  const h = await Harness.start({ config: { shutdownGraceMs: GRACE_MS } });
  cleanups.push(() => h.stop());
  return h;
}

/** An HTTP/2 connection that made one GetToken call and then idles, never closing by itself. */
async function idleClient(h: Harness): Promise<RawH2Client> {
  const c = await RawH2Client.connect(h.port);
  cleanups.push(() => c.destroy());
  const id = c.unary("/wxtoken.v1.TokenService/GetToken", [], Buffer.from(GetTokenRequest.encode({ kind: 0, agent: "", platformId: "", appId: APP }).finish()));
  await eventually(() => expect(c.ended(id)).toBe(true));
  expect(GetTokenResponse.decode(c.messages(id)[0]!).token?.appId).toBe(APP);
  return c;
}

/** Whether p settles before a bound far below the grace period (and far above what closing takes). */
function settlesWellWithinGrace(p: Promise<unknown>): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), GRACE_MS / 3)));
  return Promise.race([p.then(() => true), bound]).finally(() => clearTimeout(timer));
}

describe("shutdown with idle client connections", () => {
  it("closes them at once instead of waiting out the grace period", async () => {
    const h = await server();
    const h2 = await idleClient(h);
    // A connection that never spoke HTTP/2, like a load balancer's TCP check.
    const tcp = connect({ port: h.port, host: "127.0.0.1", allowHalfOpen: true });
    cleanups.push(() => tcp.destroy());
    await new Promise((resolve) => tcp.once("connect", resolve));
    const tcpEnded = new Promise((resolve) => tcp.once("end", resolve));
    tcp.resume();

    expect(await settlesWellWithinGrace(h.server.shutdown())).toBe(true);
    expect(h2.gotGoaway()).toBe(true);
    await h2.serverEnded;
    await tcpEnded;
  }, GRACE_MS + 10_000);

  it("still lets a call in flight finish", async () => {
    const h = await server();
    const h2 = await idleClient(h);
    const stale = (await h.getToken(APP)).token!.accessToken;
    // WeChat answers the refresh after a while; the shutdown starts meanwhile.
    h.fake.inject({ appId: APP, delayMs: 1000 });
    const inFlight = h.forceRefresh(APP, stale, GRACE_MS);
    await eventually(() => expect(h.fake.calls("/cgi-bin/token", APP)).toBe(2));

    const stopped = h.server.shutdown();
    const res = await inFlight;
    expect(res.refreshed).toBe(true);
    expect(h.fake.isValid(APP, res.token!.accessToken)).toBe(true);
    expect(await settlesWellWithinGrace(stopped)).toBe(true);
  }, GRACE_MS + 10_000);
});

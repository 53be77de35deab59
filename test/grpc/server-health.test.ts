import { credentials, status, type ServiceError } from "@grpc/grpc-js";
import { statusDetailsOf } from "../../packages/client/src/status-details.js";
import { afterEach, describe, expect, it } from "vitest";
import { HealthCheckResponse_ServingStatus as S, HealthClient } from "../../generated/grpc/health/v1/health.js";
import { APP, APP2, eventually, grpcError, Harness } from "../support/harness.js";

let h: Harness | undefined;
let health: InstanceType<typeof HealthClient> | undefined;
afterEach(async () => {
  health?.close();
  await h?.stop();
  h = undefined;
});

function check(service: string): Promise<S> {
  return new Promise((resolve, reject) => health!.check({ service }, (err, res) => (err ? reject(err) : resolve(res.status))));
}

describe("grpc.health.v1 reflects reality", () => {
  it("is NOT_SERVING per app until that app has a valid token, overall SERVING", async () => {
    h = await Harness.start();
    h.fake.inject({ appId: APP2, errcode: 40164, times: Infinity });
    health = new HealthClient(`127.0.0.1:${h.port}`, credentials.createInsecure());
    await h.getToken(APP);
    expect(await check("")).toBe(S.SERVING);
    expect(await check("wxtoken.v1.TokenService")).toBe(S.SERVING);
    expect(await check(`wxtoken.v1.TokenService/${APP}`)).toBe(S.SERVING);
    await eventually(() => expect(h!.fake.calls("/cgi-bin/token", APP2)).toBe(1));
    expect(await check(`wxtoken.v1.TokenService/${APP2}`)).toBe(S.NOT_SERVING);
    const unknown = await check("wxtoken.v1.TokenService/wxnope").catch((e: ServiceError) => e.code);
    expect(unknown).toBe(status.NOT_FOUND);
  });

  it("turns NOT_SERVING the moment the token expires with no refresh possible", async () => {
    h = await Harness.start({ expiresIn: 600 });
    health = new HealthClient(`127.0.0.1:${h.port}`, credentials.createInsecure());
    const token = (await h.getToken(APP)).token!;
    h.fake.inject({ errcode: 40125, times: Infinity });
    await h.clock.advance(token.expiresAt!.getTime() - h.clock.now() - 1);
    expect(await check(`wxtoken.v1.TokenService/${APP}`)).toBe(S.SERVING);
    await h.clock.advance(1);
    await eventually(async () => expect(await check(`wxtoken.v1.TokenService/${APP}`)).toBe(S.NOT_SERVING));
  });

  it("is NOT_SERVING overall while the server shuts down", async () => {
    h = await Harness.start();
    health = new HealthClient(`127.0.0.1:${h.port}`, credentials.createInsecure());
    await h.getToken(APP);
    const updates: S[] = [];
    const watch = health.watch({ service: "" });
    watch.on("data", (m: { status: S }) => updates.push(m.status));
    watch.on("error", () => undefined);
    await eventually(() => expect(updates).toEqual([S.SERVING]));
    await h.server.shutdown(1000);
    await eventually(() => expect(updates).toEqual([S.SERVING, S.NOT_SERVING]));
  });

  it("when the grace period ends, turns NOT_SERVING first, then cuts a call still waiting for WeChat", async () => {
    // The first fetch hangs (5 s, real time): GetToken waits on the cold start.
    h = await Harness.start({ faults: [{ delayMs: 5000 }] });
    health = new HealthClient(`127.0.0.1:${h.port}`, credentials.createInsecure());
    const events: string[] = [];
    const watch = health.watch({ service: "" });
    watch.on("data", (m: { status: S }) => events.push(S[m.status]));
    watch.on("error", () => undefined);
    await eventually(() => expect(events).toEqual(["SERVING"]));

    const waiting = grpcError(h.getToken(APP, 10_000)).then((err) => {
      events.push(`call ${status[err.code]}`);
      return err;
    });
    await eventually(() => expect(h!.server.tokens.inflightUnary()).toBe(1));
    expect(h.fake.calls("/cgi-bin/token", APP)).toBe(1);
    // Resolving at all is the point: without the forced step this would wait out WeChat.
    await h.server.shutdown(300);
    expect(h.logs.text()).toContain("grace period over; closing remaining calls");
    const err = await waiting;
    // Answered before the transport is cut: a status clients retry (CANCELLED,
    // from grpc-js's forceShutdown resetting the stream, is one they do not).
    expect(err.code).toBe(status.UNAVAILABLE);
    expect(err.details).toMatch(/shutting down; the call was still waiting for a token/);
    expect(statusDetailsOf(err.metadata)?.errorInfo?.reason).toBe("SHUTTING_DOWN");
    // Balancers were told before anything was cut.
    expect(events).toEqual(["SERVING", "NOT_SERVING", "call UNAVAILABLE"]);
  });
});

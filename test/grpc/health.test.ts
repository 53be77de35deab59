import { afterEach, describe, expect, it } from "vitest";
import * as grpc from "@grpc/grpc-js";
import { HealthService } from "../../src/grpc/health.js";
import {
  HealthClient,
  HealthCheckResponse_ServingStatus as S,
  type HealthCheckResponse,
} from "../../generated/grpc/health/v1/health.js";

interface Started {
  server: grpc.Server;
  health: HealthService;
  client: HealthClient;
}

const started: Started[] = [];

async function start(): Promise<Started> {
  const server = new grpc.Server();
  const health = new HealthService();
  health.addTo(server);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  const client = new HealthClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const s = { server, health, client };
  started.push(s);
  return s;
}

afterEach(() => {
  for (const { server, client } of started.splice(0)) {
    client.close();
    server.forceShutdown();
  }
});

function check(client: HealthClient, service: string): Promise<S> {
  return new Promise((resolve, reject) =>
    client.check({ service }, (err, res) => (err ? reject(err) : resolve(res.status))),
  );
}

/** Reads a Watch stream one message at a time, with a timeout per read. */
function watch(client: HealthClient, service: string) {
  const call = client.watch({ service });
  const queue: S[] = [];
  let wake: (() => void) | undefined;
  let final: grpc.StatusObject | undefined;
  call.on("data", (m: HealthCheckResponse) => {
    queue.push(m.status);
    wake?.();
  });
  call.on("status", (s: grpc.StatusObject) => {
    final = s;
    wake?.();
  });
  call.on("error", () => {}); // CANCELLED after cancel(); the status event has it
  const waitFor = async <T>(get: () => T | undefined, what: string): Promise<T> => {
    const deadline = Date.now() + 2000;
    for (;;) {
      const v = get();
      if (v !== undefined) return v;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, 50);
      });
    }
  };
  return {
    call,
    next: () => waitFor(() => queue.shift(), "a Watch message"),
    status: () => waitFor(() => final, "the Watch status"),
    /** Nothing more arrives within `ms` (used to prove no duplicate was sent). */
    quiet: async (ms = 150) => {
      await new Promise((r) => setTimeout(r, ms));
      return [...queue];
    },
  };
}

async function until(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 2000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("HealthService", () => {
  it("answers Check for known services and NOT_FOUND for unknown ones", async () => {
    const { health, client } = await start();
    expect(await check(client, "")).toBe(S.SERVING);
    health.set("wxtoken.v1.TokenService", "NOT_SERVING");
    expect(await check(client, "wxtoken.v1.TokenService")).toBe(S.NOT_SERVING);
    expect(health.get("wxtoken.v1.TokenService")).toBe("NOT_SERVING");

    const err = await check(client, "nope").catch((e: grpc.ServiceError) => e);
    expect(err).toMatchObject({ code: grpc.status.NOT_FOUND });

    health.remove("wxtoken.v1.TokenService");
    expect(health.get("wxtoken.v1.TokenService")).toBeUndefined();
    await expect(check(client, "wxtoken.v1.TokenService")).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
  });

  it("Watch sends the current status at once, then only real changes", async () => {
    const { health, client } = await start();
    const w = watch(client, "");
    expect(await w.next()).toBe(S.SERVING);
    health.set("", "NOT_SERVING");
    expect(await w.next()).toBe(S.NOT_SERVING);
    health.set("", "NOT_SERVING"); // no change: no message
    health.set("other", "SERVING"); // another service: no message
    expect(await w.quiet()).toEqual([]);
    health.set("", "SERVING");
    expect(await w.next()).toBe(S.SERVING);
    w.call.cancel();
  });

  it("Watch on an unknown service says SERVICE_UNKNOWN and stays open until it appears", async () => {
    const { health, client } = await start();
    const w = watch(client, "app/wx123");
    expect(await w.next()).toBe(S.SERVICE_UNKNOWN);
    health.remove("app/wx123"); // already unknown: no message
    expect(await w.quiet()).toEqual([]);
    health.set("app/wx123", "SERVING");
    expect(await w.next()).toBe(S.SERVING);
    health.remove("app/wx123");
    expect(await w.next()).toBe(S.SERVICE_UNKNOWN);
    w.call.cancel();
  });

  it("frees the watcher when the client cancels", async () => {
    const { health, client } = await start();
    const a = watch(client, "");
    const b = watch(client, "x");
    await a.next();
    await b.next();
    expect(health.watcherCount()).toBe(2);
    a.call.cancel();
    expect((await a.status()).code).toBe(grpc.status.CANCELLED);
    await until(() => health.watcherCount() === 1, "watcher count 1");
    b.call.cancel();
    await until(() => health.watcherCount() === 0, "watcher count 0");
    // Notifying after the cancel must not throw on a dead stream.
    health.set("", "NOT_SERVING");
    health.set("x", "SERVING");
  });

  it("shutdown sets NOT_SERVING everywhere, ends Watch streams with OK, and lets tryShutdown finish", async () => {
    const { server, health, client } = await start();
    health.set("svc", "SERVING");
    const overall = watch(client, "");
    const svc = watch(client, "svc");
    const unknown = watch(client, "ghost");
    expect(await overall.next()).toBe(S.SERVING);
    expect(await svc.next()).toBe(S.SERVING);
    expect(await unknown.next()).toBe(S.SERVICE_UNKNOWN);

    health.shutdown();
    expect(await overall.next()).toBe(S.NOT_SERVING);
    expect(await svc.next()).toBe(S.NOT_SERVING);
    for (const w of [overall, svc, unknown]) expect((await w.status()).code).toBe(grpc.status.OK);
    expect(await unknown.quiet(0)).toEqual([]);
    expect(health.watcherCount()).toBe(0);

    // Updates after shutdown are ignored; Check reports NOT_SERVING.
    health.set("", "SERVING");
    expect(await check(client, "")).toBe(S.NOT_SERVING);
    expect(await check(client, "svc")).toBe(S.NOT_SERVING);

    // A late Watch gets the status and is ended at once.
    const late = watch(client, "");
    expect(await late.next()).toBe(S.NOT_SERVING);
    expect((await late.status()).code).toBe(grpc.status.OK);
    expect(health.watcherCount()).toBe(0);

    // No open streams remain, so a graceful shutdown completes.
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error("tryShutdown hung")), 3000);
      server.tryShutdown((err) => {
        clearTimeout(t);
        return err ? reject(err) : resolve();
      });
    });
  });
});

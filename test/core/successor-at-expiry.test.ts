/**
 * A value WeChat keeps until its expiry (tickets, WeCom tokens) is replaced
 * only at its end, and WeChat counts that end from when it answered the call
 * that brought the value: up to that call's latency after we asked, which is
 * where our book puts it. Asked at our expiry, WeChat may answer the same
 * value once more. Callers then wait a moment for the successor instead of
 * getting an error, the value is never served past our expiry, and a WeChat
 * that keeps answering it is a failure after a bounded number of calls.
 */
import { describe, expect, it } from "vitest";
import { FakeClock } from "../../src/clock.js";
import { CredentialEngine } from "../../src/core/engine.js";
import { NoValidTokenError, StoppedError } from "../../src/core/errors.js";
import type { Issuer } from "../../src/core/issuer.js";
import { SUCCESSOR_WAIT_MS } from "../../src/core/schedule.js";
import { silentLogger } from "../../src/log.js";
import { MemoryStore } from "../../src/store/memory-store.js";
import { whileTicking } from "../support/ticking.js";

const LIFE_MS = 7_200_000;

/**
 * WeChat as it keeps a ticket: the same value until its end, counted from
 * when it handled the call that issued it (`latencies[i]` after call i was
 * made; the last entry for every later call). `rotates: false`: never a new one.
 */
function upstream(clock: FakeClock, latencies: number[], rotates = true) {
  let held: { value: string; endsAt: number } | undefined;
  let gate: Promise<void> | undefined;
  let open = () => undefined as void;
  const calls: number[] = [];
  const u = {
    calls,
    /** The next call waits for release() before WeChat handles it (a caller can join it meanwhile). */
    hold() {
      gate = new Promise<void>((resolve) => (open = resolve));
    },
    release() {
      open();
    },
    issuer: {
      id: { appId: "wx1", kind: "jsapi_ticket" as const },
      endpoint: "ticket",
      source: "s",
      budget: "token" as const,
      sameValueUntilExpiry: true,
      hourlyLimits: [],
      fetch: async () => {
        const i = calls.push(clock.now()) - 1;
        const waited = gate;
        gate = undefined;
        await waited;
        const handledAt = clock.now() + latencies[Math.min(i, latencies.length - 1)]!;
        if (!held || (rotates && handledAt >= held.endsAt)) held = { value: `ticket-${calls.length}`, endsAt: handledAt + LIFE_MS };
        return { value: held.value, expiresIn: LIFE_MS / 1000 };
      },
    } satisfies Issuer,
    endsAt: () => held!.endsAt,
  };
  return u;
}

async function engineFor(clock: FakeClock, issuer: Issuer) {
  const engine = await CredentialEngine.create(
    {
      store: new MemoryStore(),
      clock,
      log: silentLogger,
      random: () => 0,
      refresh: { marginMs: 300_000, jitterMs: 0 },
      retry: { baseMs: 1000, maxMs: 60_000, adminMs: 300_000, permanentMs: 1_800_000, rateLimitMs: 60_000 },
      quota: { dailyBudget: 500, forceDailyBudget: 100, minForceIntervalMs: 60_000 },
    },
    [issuer],
  );
  engine.start();
  await clock.advance(0);
  return { engine, c: engine.byKey("wx1#jsapi_ticket")! };
}

describe("a value WeChat keeps until its expiry, answered again at our expiry", () => {
  it("callers wait for its successor: no error, the old value not served past our expiry, one call more", async () => {
    const clock = new FakeClock();
    // The call that brought the first value took 150 ms to reach WeChat; later ones 20 ms.
    const u = upstream(clock, [150, 20]);
    const { engine, c } = await engineFor(clock, u.issuer);
    const first = c.current()!;
    expect(first.value).toBe("ticket-1");
    expect(u.endsAt() - first.expiresAt).toBe(150);

    // The planned refresh, 5 minutes early, gets the same value: asked again at expiry.
    await clock.advanceTo(first.refreshAt);
    await clock.advance(0);
    expect(u.calls).toHaveLength(2);
    expect(c.current()!.value).toBe("ticket-1");
    expect(c.nextRefreshAt()).toBe(first.expiresAt);

    // At our expiry WeChat (20 ms on, its end 150 ms on) answers it once more; a caller joins that call.
    u.hold();
    await clock.advanceTo(first.expiresAt);
    expect(u.calls).toHaveLength(3);
    const got = c.get({ waitMs: 5000 });
    u.release();
    await clock.advance(0);
    let servedOld = false;
    const next = await whileTicking(clock, got, {
      onStep: () => {
        if (c.current()?.value === "ticket-1") servedOld = true;
      },
    });
    expect(next.value).not.toBe("ticket-1");
    expect(next.version).toBe(first.version + 1);
    expect(servedOld).toBe(false);
    // At expiry (same again), 100 ms on (same: WeChat sees 120 ms), 200 ms on (new).
    expect(u.calls.slice(2).map((t) => t - first.expiresAt)).toEqual([0, 100, 200]);
    engine.stop();
  });

  it("a WeChat that keeps answering it past SUCCESSOR_WAIT_MS is a failure, after a bounded number of calls", async () => {
    const clock = new FakeClock();
    const u = upstream(clock, [0], false);
    const { engine, c } = await engineFor(clock, u.issuer);
    const first = c.current()!;
    await clock.advanceTo(first.expiresAt);
    const err = await whileTicking(clock, c.get({ waitMs: 0 })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NoValidTokenError);
    expect((err as Error).message).toMatch(/returned v1 again, which expired/);
    const atExpiry = u.calls.filter((t) => t >= first.expiresAt).map((t) => t - first.expiresAt);
    // Asked again after the time past expiry doubled (from 100 ms), the last time at SUCCESSOR_WAIT_MS past it.
    expect(atExpiry).toEqual([0, 100, 200, 400, 800, 1600, SUCCESSOR_WAIT_MS]);
    engine.stop();
  });

  it("a stop while it waits for the successor ends the callers' wait at once", async () => {
    const clock = new FakeClock();
    const u = upstream(clock, [150, 20]);
    const { engine, c } = await engineFor(clock, u.issuer);
    const first = c.current()!;
    await clock.advanceTo(first.expiresAt);
    const got = c.get({ waitMs: 5000 });
    await clock.advance(0);
    await new Promise((resolve) => setImmediate(resolve));
    const calls = u.calls.length;
    engine.stop();
    await expect(got).rejects.toBeInstanceOf(StoppedError);
    await clock.advance(1000);
    expect(u.calls).toHaveLength(calls);
  });
});

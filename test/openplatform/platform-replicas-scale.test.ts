/**
 * Three replicas on Redis split a platform's refresh work: each account's
 * refresh is made by one replica (its owner), once for the cluster; when a
 * replica leaves, the others take its share.
 */
import { afterEach, describe, expect, it } from "vitest";
import { FakeClock, systemClock, type Clock } from "../../src/clock.js";
import type { StoredCredential } from "../../src/core/store.js";
import { seededAuthorizerAppId } from "../../src/fake-wechat/component-authorizers.js";
import { FakeWeChat } from "../../src/fake-wechat/index.js";
import { silentLogger } from "../../src/log.js";
import { RedisStore } from "../../src/store/redis-store.js";
import { eventually } from "../support/harness.js";
import { componentOptions, PlatformHarness } from "../support/platform.js";
import { dropPrefix, SHARED_REDIS_URL, uniquePrefix } from "../support/redis.js";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A Redis store that counts the authorizer tokens this replica itself obtained and saved. */
class CountingStore extends RedisStore {
  saved = 0;
  override save(token: StoredCredential): void {
    if (/^wx[0-9a-f]{16}$/.test(token.key)) this.saved++;
    super.save(token);
  }
}

const N = 150;

/**
 * Moves the shared clock to `to` in 5 s steps, letting real I/O (Redis, the
 * fake's HTTP) catch up every few steps, so that fake time does not outrun
 * the refreshes it starts when the machine is busy.
 */
async function advanceThrough(clock: FakeClock, to: number): Promise<void> {
  for (let i = 0; clock.now() < to; i++) {
    await clock.advance(5000);
    if (i % 10 === 0) await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
/**
 * The replicas' heartbeats run on real time (the system clock), so that the
 * live set stays steady while the test moves the credentials' clock two
 * hours on in a few seconds.
 */
const LEASE_MS = 15_000;

/** The system clock for one replica's heartbeats, until its process "hangs": then its timers never fire again. */
function killableClock(): Clock & { kill(): void } {
  let dead = false;
  return {
    now: () => systemClock.now(),
    setTimeout: (fn, ms) =>
      systemClock.setTimeout(() => {
        if (!dead) fn();
      }, ms),
    clearTimeout: (h) => systemClock.clearTimeout(h),
    kill: () => void (dead = true),
  };
}

describe("a platform on three replicas at scale", () => {
  it("splits the refreshes between the replicas, one upstream call each, and takes over a dead replica's share within a lease", async () => {
    const clock = new FakeClock();
    const fake = new FakeWeChat({ apps: {}, clock, overlapMs: 300_000, component: { ...componentOptions(), seedAuthorizers: N } });
    await fake.start();
    cleanups.push(() => fake.close());
    const prefix = uniquePrefix();
    cleanups.push(() => dropPrefix(SHARED_REDIS_URL, prefix));
    const stores: CountingStore[] = [];
    const replicas: PlatformHarness[] = [];
    const heartbeats = [killableClock(), killableClock(), killableClock()];
    for (let i = 0; i < 3; i++) {
      const store = new CountingStore({
        url: SHARED_REDIS_URL,
        keyPrefix: prefix,
        lockLeaseMs: 5000,
        log: silentLogger,
        replicas: { id: `replica-${i}`, leaseMs: LEASE_MS, clock: heartbeats[i]! },
      });
      const p = await PlatformHarness.start({ clock, fake, store, platform: { maxCallsPerSecond: 100 } });
      cleanups.push(() => p.stop());
      stores.push(store);
      replicas.push(p);
    }
    const served = (p: PlatformHarness) => Array.from({ length: N }, (_, i) => p.h.server.engine.byKey(seededAuthorizerAppId(i))?.current()).filter(Boolean).length;
    // Every replica hears the others' heartbeats.
    await eventually(() => {
      for (const s of stores) expect(s.replicas().liveCount()).toBe(3);
    }, 2 * LEASE_MS);
    fake.component.pushUrl = replicas[0]!.pushUrl;
    await fake.component.pushTicket();
    await eventually(async () => {
      await clock.advance(1000);
      for (const p of replicas) expect(served(p)).toBe(N);
    }, 15_000);
    // The restore: one fetch per account for the cluster.
    expect(fake.calls("/cgi-bin/component/api_authorizer_token")).toBe(N);

    // The refresh wave, two hours on: each account refreshed once, by its owner.
    fake.resetCounts();
    for (const s of stores) s.saved = 0;
    const until = clock.now() + 7200_000;
    await advanceThrough(clock, until);
    await eventually(() => expect(fake.calls("/cgi-bin/component/api_authorizer_token")).toBeGreaterThanOrEqual(N), 20_000);
    expect(fake.calls("/cgi-bin/component/api_authorizer_token")).toBeLessThanOrEqual(N + 5);
    // Each replica refreshed exactly its own share.
    const owned = stores.map((s) => Array.from({ length: N }, (_, i) => seededAuthorizerAppId(i)).filter((k) => s.replicas().owns(k)).length);
    expect(owned.reduce((a, b) => a + b)).toBe(N);
    await eventually(() => expect(stores.map((s) => s.saved)).toEqual(owned), 20_000);
    for (const share of owned) expect(share).toBeGreaterThan(N / 3 / 2);
    await eventually(() => {
      for (const p of replicas) expect(served(p)).toBe(N);
    }, 20_000);

    // Replica 2 hangs: no more heartbeats, no more refreshes, and it does not leave the set.
    heartbeats[2]!.kill();
    replicas[2]!.h.server.engine.stop();
    const hungAt = Date.now();
    await eventually(() => {
      for (const s of stores.slice(0, 2)) expect(s.replicas().liveCount()).toBe(2);
    }, 2 * LEASE_MS);
    // Within a lease of its last heartbeat (which came at most a third of a lease before it hung).
    expect(Date.now() - hungAt).toBeLessThanOrEqual(LEASE_MS + LEASE_MS / 3 + 2000);
    fake.resetCounts();
    for (const s of stores) s.saved = 0;
    const next = clock.now() + 7200_000;
    await advanceThrough(clock, next);
    await eventually(() => expect(fake.calls("/cgi-bin/component/api_authorizer_token")).toBeGreaterThanOrEqual(N), 20_000);
    await eventually(() => expect(stores[0]!.saved + stores[1]!.saved).toBeGreaterThanOrEqual(N), 20_000);
    expect(stores[2]!.saved).toBe(0);
    expect(fake.calls("/cgi-bin/component/api_authorizer_token")).toBeLessThanOrEqual(N + 5);
    await eventually(() => {
      for (const p of replicas.slice(0, 2)) expect(served(p)).toBe(N);
    }, 20_000);
  }, 180_000);
});

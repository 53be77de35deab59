/**
 * The engine's counts of credentials held and owned (wxtoken_credentials,
 * wxtoken_replica_owned_credentials): kept as credentials come and go and
 * recounted only when the live replicas change, so reading them (every
 * metrics scrape) asks ownership nothing, however many credentials there are.
 */
import { describe, expect, it } from "vitest";
import { FakeClock } from "../../src/clock.js";
import { CredentialEngine } from "../../src/core/engine.js";
import type { Issuer } from "../../src/core/issuer.js";
import { rendezvous } from "../../src/core/ownership.js";
import { silentLogger } from "../../src/log.js";
import { MemoryStore } from "../../src/store/memory-store.js";

function issuer(appId: string): Issuer {
  return {
    id: { appId, kind: "access_token" },
    endpoint: "token",
    source: "s",
    budget: "token",
    sameValueUntilExpiry: false,
    hourlyLimits: [],
    fetch: async () => ({ value: `t-${appId}`, expiresIn: 7200 }),
  };
}

/** Replica "b" among a live set the test changes; counts its owns() calls. */
function liveSet(initial: string[]) {
  let owner = rendezvous(initial);
  let live = initial.length;
  const listeners = new Set<() => void>();
  const o = {
    id: "b",
    asked: 0,
    owns: (key: string) => {
      o.asked++;
      return owner(key) === "b";
    },
    liveCount: () => live,
    onChange: (l: () => void) => (listeners.add(l), () => listeners.delete(l)),
    set(ids: string[]) {
      owner = rendezvous(ids);
      live = ids.length;
      for (const l of listeners) l();
    },
    ownedOf(keys: string[]) {
      return keys.filter((k) => owner(k) === "b").length;
    },
  };
  return o;
}

describe("the engine's credential counts", () => {
  it("follow additions, removals and replica changes, and cost nothing to read", async () => {
    const ownership = liveSet(["a", "b", "c"]);
    const engine = await CredentialEngine.create(
      {
        store: new MemoryStore(),
        clock: new FakeClock(),
        log: silentLogger,
        ownership,
        refresh: { marginMs: 300_000, jitterMs: 0 },
        retry: { baseMs: 1000, maxMs: 60_000, adminMs: 300_000, permanentMs: 1_800_000, rateLimitMs: 60_000 },
        quota: { dailyBudget: 500, forceDailyBudget: 100, minForceIntervalMs: 60_000 },
      },
      [],
    );
    const keys = Array.from({ length: 3000 }, (_, i) => `wx${i.toString(16).padStart(16, "0")}`);
    for (const k of keys) engine.add(issuer(k), "platform:wxp");
    expect(engine.counts()).toEqual({ held: 3000, owned: ownership.ownedOf(keys) });
    expect(engine.counts().owned).toBeGreaterThan(500);
    expect(engine.counts().owned).toBeLessThan(1500);

    // Reading the counts asks ownership nothing.
    const asked = ownership.asked;
    for (let i = 0; i < 100; i++) engine.counts();
    expect(ownership.asked).toBe(asked);

    // A replica leaves: recounted once.
    ownership.set(["a", "b"]);
    expect(engine.counts()).toEqual({ held: 3000, owned: ownership.ownedOf(keys) });

    // Removing one asks about that one only.
    const before = ownership.asked;
    const gone = keys.slice(0, 1000);
    for (const k of gone) engine.remove(k);
    const rest = keys.slice(1000);
    expect(engine.counts()).toEqual({ held: 2000, owned: ownership.ownedOf(rest) });
    expect(ownership.asked - before).toBeLessThan(1000 * 3);

    ownership.set(["b"]);
    expect(engine.counts()).toEqual({ held: 2000, owned: 2000 });
  });
});

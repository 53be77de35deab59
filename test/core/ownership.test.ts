/**
 * Rendezvous hashing (src/core/ownership.ts): for any set of replicas every
 * key has exactly one owner, the keys split evenly, and a replica leaving
 * moves only its own keys. Pure: no Redis here (test/store/redis-replica-registry.test.ts).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fixedOwnership, rendezvous, rendezvousWeight, soleOwner } from "../../src/core/ownership.js";

/** Replica ids as deployments make them (hostname-pid-random), and arbitrary strings too. */
const replicaId = fc.oneof(
  fc.tuple(fc.constantFrom("wxtoken-0", "wxtoken-1", "wxtoken-2", "pod-7f9c", "ip-10-0-0-12"), fc.integer({ min: 1, max: 99_999 }), fc.stringMatching(/^[0-9a-f]{6}$/)).map(
    ([host, pid, r]) => `${host}-${pid}-${r}`,
  ),
  fc.string({ minLength: 1, maxLength: 12 }),
);
const replicaSet = (min: number, max: number) => fc.uniqueArray(replicaId, { minLength: min, maxLength: max });

/** Credential keys as the engine makes them (src/core/credential-id.ts): appids, WeCom agents, tickets. */
function keys(salt: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => {
    const hex = (i * 2654435761 + salt.length).toString(16).padStart(16, "0").slice(-16);
    switch (i % 4) {
      case 0:
        return `wx${hex}`;
      case 1:
        return `wx${hex}#jsapi_ticket`;
      case 2:
        return `ww${hex.slice(0, 10)}/${1_000_000 + i}`;
      default:
        return `${salt}${i}`;
    }
  });
}

describe("rendezvous ownership", () => {
  it("gives every key exactly one owner among the replicas, whichever replica asks", () => {
    fc.assert(
      fc.property(replicaSet(1, 8), fc.array(fc.string({ maxLength: 40 }), { minLength: 1, maxLength: 200 }), (ids, someKeys) => {
        const views = ids.map((id) => fixedOwnership(id, ids));
        for (const key of someKeys) {
          const owners = views.filter((v) => v.owns(key)).map((v) => v.id);
          expect(owners).toHaveLength(1);
          // The owner is the heaviest replica, by the published weight.
          const heaviest = Math.max(...ids.map((id) => rendezvousWeight(id, key)));
          expect(rendezvousWeight(owners[0]!, key)).toBe(heaviest);
        }
        expect(views.every((v) => v.liveCount() === ids.length)).toBe(true);
      }),
    );
  });

  it("splits keys evenly: each of n replicas owns 1/n of them within 15 %", () => {
    fc.assert(
      fc.property(replicaSet(2, 6), fc.string({ maxLength: 8 }), (ids, salt) => {
        const perReplica = 2000;
        const all = keys(salt, perReplica * ids.length);
        const owner = rendezvous(ids);
        const counts = new Map(ids.map((id) => [id, 0]));
        for (const key of all) counts.set(owner(key)!, counts.get(owner(key)!)! + 1);
        // About 7 standard deviations of a fair split: a failure is a biased hash, not bad luck.
        for (const [, n] of counts) expect(Math.abs(n - perReplica)).toBeLessThanOrEqual(perReplica * 0.15);
      }),
      { numRuns: 60 },
    );
  });

  it("moves only the keys of a replica that leaves, and spreads them over the others", () => {
    fc.assert(
      fc.property(replicaSet(2, 7), fc.nat(), fc.string({ maxLength: 8 }), (ids, pick, salt) => {
        const gone = ids[pick % ids.length]!;
        const rest = ids.filter((id) => id !== gone);
        const before = rendezvous(ids);
        const after = rendezvous(rest);
        const moved = new Map(rest.map((id) => [id, 0]));
        for (const key of keys(salt, 3000)) {
          const was = before(key)!;
          const now = after(key)!;
          if (was !== gone) expect(now).toBe(was);
          else moved.set(now, moved.get(now)! + 1);
        }
        // Its keys go to the next heaviest of each, not all to one replica.
        const total = [...moved.values()].reduce((a, b) => a + b, 0);
        if (rest.length > 1 && total >= 400) for (const [, n] of moved) expect(n).toBeGreaterThan(0);
      }),
      { numRuns: 60 },
    );
  });

  it("owns the same keys whatever the order the live set is listed in, and nothing when absent from it", () => {
    const ids = ["c-3-ccc", "a-1-aaa", "b-2-bbb"];
    const a = rendezvous(ids);
    const b = rendezvous([...ids].reverse());
    for (const key of keys("x", 1000)) expect(b(key)).toBe(a(key));
    const outsider = fixedOwnership("d-4-ddd", ids);
    expect(keys("x", 1000).some((k) => outsider.owns(k))).toBe(false);
    expect(rendezvous([])("wx1")).toBeUndefined();
  });

  it("a sole process owns everything", () => {
    expect(keys("y", 100).every((k) => soleOwner.owns(k))).toBe(true);
    expect(soleOwner.liveCount()).toBe(1);
    soleOwner.onChange(() => undefined)();
  });
});

/**
 * Which replica refreshes which credential. Every replica serves every
 * credential, but only one of them, its owner, schedules the credential's
 * refreshes, so that the refresh work of a large platform is split between
 * the replicas instead of every replica waking for every credential. The
 * per-credential refresh lock (coordinator.ts) still makes each refresh one
 * upstream call for the cluster: ownership spreads the work, the lock keeps it
 * single while the replicas' views of who is live briefly differ.
 *
 * Owners are chosen by rendezvous (highest random weight) hashing: each
 * replica gives each key a pseudo-random weight and the heaviest live replica
 * owns it. Every replica that knows the same live set picks the same owner
 * with no coordination, the keys split evenly, and when a replica leaves only
 * its own keys move (each to the next heaviest), so a change of membership
 * reschedules about 1/n of the credentials, not all of them.
 *
 * The live set comes from Redis (src/store/replica-registry.ts); one process
 * on its own owns everything (soleOwner).
 */

export interface Ownership {
  /** This replica's id. */
  readonly id: string;
  /** Whether this replica refreshes the credential with this key now: rendezvous (highest random weight) hashing of the key over the live replicas. */
  owns(key: string): boolean;
  /** How many replicas are live (a platform's upstream rate ceiling is divided by it). */
  liveCount(): number;
  /** Told after the live set changed (a replica joined, left, or its lease lapsed). Returns an unsubscribe. */
  onChange(listener: () => void): () => void;
}

/** One process: owns everything. */
export const soleOwner: Ownership = {
  id: "sole",
  owns: () => true,
  liveCount: () => 1,
  // A sole owner never changes.
  onChange: () => () => undefined,
};

/**
 * A fixed live set seen from replica `id` (which need not be in it: then it
 * owns nothing). For tests of what uses an Ownership, and what a registry
 * answers between two heartbeats.
 */
export function fixedOwnership(id: string, live: readonly string[]): Ownership {
  const owner = rendezvous(live);
  const count = new Set(live).size;
  return { id, owns: (key) => owner(key) === id, liveCount: () => count, onChange: () => () => undefined };
}

/**
 * The owner of each key among these replicas (undefined if there are none).
 * The ids are hashed once here, so a lookup costs one hash of the key and one
 * 32-bit mix per replica: 100,000 keys over 3 replicas take about 6 ms.
 */
export function rendezvous(replicaIds: readonly string[]): (key: string) => string | undefined {
  // Sorted, so that a tie of weights (about one key in 2^32 per pair) goes to the same id on every replica.
  const ids = [...new Set(replicaIds)].sort();
  const seeds = ids.map((id) => hash32(id));
  if (ids.length <= 1) return () => ids[0];
  return (key) => {
    const k = hash32(key);
    let best = 0;
    let bestWeight = -1;
    for (let i = 0; i < seeds.length; i++) {
      const w = mix32(k ^ seeds[i]!);
      if (w > bestWeight) {
        best = i;
        bestWeight = w;
      }
    }
    return ids[best];
  };
}

/** The weight replica `replicaId` gives `key`: the heaviest live replica owns the key. */
export function rendezvousWeight(replicaId: string, key: string): number {
  return mix32(hash32(key) ^ hash32(replicaId));
}

/**
 * A 32-bit hash of a string's UTF-16 code units: MurmurHash3's per-block
 * mixing and finalizer. Not cryptographic: nobody gains by steering which
 * replica refreshes a key, and it must be cheap.
 */
export function hash32(text: string): number {
  let h = 0x9747b28c;
  for (let i = 0; i < text.length; i++) {
    let k = Math.imul(text.charCodeAt(i), 0xcc9e2d51);
    k = Math.imul((k << 15) | (k >>> 17), 0x1b873593);
    h ^= k;
    h = (Math.imul((h << 13) | (h >>> 19), 5) + 0xe6546b64) | 0;
  }
  return mix32(h ^ text.length);
}

/**
 * MurmurHash3's finalizer: a bijection on 32 bits in which every input bit
 * moves every output bit. Given the key's hash XOR a replica's, it makes the
 * weights of different replicas for one key behave as independent draws.
 */
function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

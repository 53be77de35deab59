/**
 * Strings kept in order for pages read by key (keyset pagination): an Open
 * Platform's authorizers by appid (src/platform/tenant-index.ts),
 * every credential for ListCredentials (src/core/credential-index.ts). A
 * page must not sort or copy 100,000 keys, so the sorted array changes only
 * when membership changed, and then by merging the few changes into the
 * order already built (O(N + k log k)), not by sorting everything again.
 */

/** Keys in order, with the additions and removals not merged in yet. */
export class SortedKeys {
  /** How many times the order was rebuilt: the work a page costs, counted (tests). */
  merges = 0;
  private sorted: string[] = [];
  private readonly added = new Set<string>();
  private readonly removed = new Set<string>();

  get size(): number {
    return this.sorted.length + this.added.size - this.removed.size;
  }

  /** A key not held. */
  add(key: string): void {
    if (!this.removed.delete(key)) this.added.add(key);
  }

  /** A key held. */
  remove(key: string): void {
    if (!this.added.delete(key)) this.removed.add(key);
  }

  /**
   * Holds nothing. The order built so far is kept, with every key marked
   * removed: a reload that clears the map and sets the same keys again then
   * costs no sort.
   */
  removeAll(): void {
    this.added.clear();
    for (const k of this.sorted) this.removed.add(k);
  }

  /** The keys in order; merges what changed since the last call. */
  keys(): readonly string[] {
    if (this.added.size === 0 && this.removed.size === 0) return this.sorted;
    const kept = this.removed.size === 0 ? this.sorted : this.sorted.filter((k) => !this.removed.has(k));
    const fresh = [...this.added].sort();
    const out: string[] = new Array(kept.length + fresh.length);
    let i = 0;
    let j = 0;
    let n = 0;
    while (i < kept.length && j < fresh.length) out[n++] = kept[i]! < fresh[j]! ? kept[i++]! : fresh[j++]!;
    while (i < kept.length) out[n++] = kept[i++]!;
    while (j < fresh.length) out[n++] = fresh[j++]!;
    this.sorted = out;
    this.merges++;
    this.added.clear();
    this.removed.clear();
    return out;
  }
}

/** The index of the first key greater than `after` (0 without one). */
export function firstAfter(keys: readonly string[], after: string | undefined): number {
  if (after === undefined) return 0;
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid]! <= after) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The index of the first key at or after `from`. */
export function firstAtOrAfter(keys: readonly string[], from: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid]! < from) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

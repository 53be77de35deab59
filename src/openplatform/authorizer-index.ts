/**
 * The authorizers of one platform by appid, kept ready for ListAuthorizers in
 * pages: besides the map itself, the appids in order (all of them, and per
 * status) and their counts. A platform may hold 100,000 accounts; a page must
 * not sort or copy them all, so the sorted arrays change only when membership
 * (or an account's status) changed, and then by merging the few changes into
 * the order already built (O(N + k log k)), not by sorting everything again.
 *
 * It is a Map, so the AuthorizerBook keeps its mirror in it unchanged: every
 * set, delete and clear passes through here and the order follows.
 */
import type { AuthorizerStatus, StoredAuthorizer } from "./store.js";

/** One page of authorizers, by appid. */
export interface AuthorizerPage {
  authorizers: StoredAuthorizer[];
  /** Whether authorizers matching the filter come after this page. */
  more: boolean;
  /** How many match the filter, on every page. */
  total: number;
}

/** Appids in order, with the additions and removals not merged in yet. */
class SortedKeys {
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
function firstAfter(keys: readonly string[], after: string | undefined): number {
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

export class AuthorizerIndex extends Map<string, StoredAuthorizer> {
  private readonly order = { all: new SortedKeys(), byStatus: new Map<AuthorizerStatus, SortedKeys>() };

  // No entries at construction: Map's constructor would call set() before the order exists.
  constructor() {
    super();
  }

  private ofStatus(status: AuthorizerStatus): SortedKeys {
    const byStatus = this.order.byStatus;
    let keys = byStatus.get(status);
    if (!keys) byStatus.set(status, (keys = new SortedKeys()));
    return keys;
  }

  override set(appId: string, authorizer: StoredAuthorizer): this {
    const before = super.get(appId);
    if (!before) {
      this.order.all.add(appId);
      this.ofStatus(authorizer.status).add(appId);
    } else if (before.status !== authorizer.status) {
      this.ofStatus(before.status).remove(appId);
      this.ofStatus(authorizer.status).add(appId);
    }
    return super.set(appId, authorizer);
  }

  override delete(appId: string): boolean {
    const before = super.get(appId);
    if (!before) return false;
    this.order.all.remove(appId);
    this.ofStatus(before.status).remove(appId);
    return super.delete(appId);
  }

  override clear(): void {
    this.order.all.removeAll();
    for (const keys of this.order.byStatus.values()) keys.removeAll();
    super.clear();
  }

  /** How many are held, with this status or all. */
  count(status?: AuthorizerStatus): number {
    return status === undefined ? this.size : (this.order.byStatus.get(status)?.size ?? 0);
  }

  /** How many times an order (all, or one status's) was rebuilt: tests count the work of a page with it. */
  get rebuilds(): number {
    const o = this.order;
    let n = o.all.merges;
    for (const keys of o.byStatus.values()) n += keys.merges;
    return n;
  }

  /**
   * Up to `limit` authorizers (with `status`, or all) whose appid comes after
   * `after`, in appid order: a binary search for the start, then the page.
   * Keyed by the last appid seen rather than by position, so accounts added
   * or removed between two pages do not make the others repeat or go missing.
   */
  page(after: string | undefined, limit: number, status?: AuthorizerStatus): AuthorizerPage {
    const keys = status === undefined ? this.order.all.keys() : (this.order.byStatus.get(status)?.keys() ?? []);
    const start = firstAfter(keys, after);
    const end = Math.min(keys.length, start + limit);
    const authorizers: StoredAuthorizer[] = [];
    for (let i = start; i < end; i++) authorizers.push(super.get(keys[i]!)!);
    return { authorizers, more: end < keys.length, total: keys.length };
  }
}

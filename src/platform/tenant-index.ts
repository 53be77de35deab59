/**
 * The authorizers of one platform by appid, kept ready for ListAuthorizers in
 * pages: besides the map itself, the appids in order (all of them, and per
 * status) and their counts. A platform may hold 100,000 accounts; a page must
 * not sort or copy them all, so the sorted arrays change only when membership
 * (or an account's status) changed, and then by merging the few changes into
 * the order already built (O(N + k log k)), not by sorting everything again.
 *
 * It is a Map, so the TenantBook keeps its mirror in it unchanged: every
 * set, delete and clear passes through here and the order follows.
 */
import { firstAfter, SortedKeys } from "../core/sorted-keys.js";
import type { AuthorizerStatus, StoredAuthorizer } from "./store.js";

/** One page of authorizers, by appid. */
export interface AuthorizerPage {
  authorizers: StoredAuthorizer[];
  /** Whether authorizers matching the filter come after this page. */
  more: boolean;
  /** How many match the filter, on every page. */
  total: number;
}

export class TenantIndex extends Map<string, StoredAuthorizer> {
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

/**
 * Every credential of the engine in order, for ListCredentials in pages:
 * by app, then agent, then kind, with a sorted index per kind, per state
 * and per kind and state, and the count of each. A state changes when a
 * value turns valid or expires and when a run of failures starts or ends
 * (the credential says so, src/core/credential.ts), so a page filtered by
 * kind or state binary-searches its start in that index and reads its
 * credentials, whatever the total: with 100,000 authorizers, the three that
 * are down are one page read, not a scan. An app's credentials are one
 * contiguous range of the order. What no index answers (a search string,
 * the caller's grants) is checked per credential, a bounded number per page.
 */
import { firstAfter, firstAtOrAfter, SortedKeys } from "./sorted-keys.js";
import type { CredentialKind } from "./credential-id.js";
import type { Credential } from "./credential.js";

export type CredentialStateName = "ok" | "failing" | "down" | "idle";

export const CREDENTIAL_STATES: readonly CredentialStateName[] = ["ok", "failing", "down", "idle"];

/** Where a credential stands: valid or not, failing or not. */
export function stateOf(c: Pick<Credential, "healthy" | "lastError">): CredentialStateName {
  const failing = c.lastError() !== undefined;
  if (c.healthy()) return failing ? "failing" : "ok";
  return failing ? "down" : "idle";
}

/**
 * The order key: the credential key with "#" (before a kind) as \u0001,
 * "/" (before an agent) as \u0002 and "@" (before a WeCom suite id) as
 * \u0003, all below every character an appid or agent may hold. So an app's
 * access_token comes first, then its tickets, then each agent's, then its
 * credentials through each suite (a corp's `ww1@dk1`), and an app's
 * credentials are the keys from `appId` up to `appId` + \u0004, with no
 * other app in between.
 */
export function orderKey(key: string): string {
  return key.replace(/#/g, "\u0001").replace(/\//g, "\u0002").replace(/@/g, "\u0003");
}

export interface IndexQuery {
  /** The order key of the last credential of the page before. */
  after?: string;
  limit: number;
  appId?: string;
  kind?: CredentialKind;
  state?: CredentialStateName;
  /** Checked per credential (a search, the caller's grants): a page looks at `budget` of them at most. */
  accept?: (c: Credential) => boolean;
  budget: number;
}

export interface IndexPage {
  credentials: Credential[];
  /** The order key to continue after; undefined when nothing is left. */
  next: string | undefined;
  /** How many match in all pages; undefined when `accept` was applied beyond one app's credentials. */
  total: number | undefined;
}

interface Entry {
  readonly c: Credential;
  state: CredentialStateName;
}

export class CredentialIndex {
  private readonly entries = new Map<string, Entry>();
  private readonly all = new SortedKeys();
  private readonly byFilter = new Map<string, SortedKeys>();
  /** Credentials looked at by page(): the work pages cost, counted (tests). */
  visited = 0;

  private sets(kind: CredentialKind, state: CredentialStateName): SortedKeys[] {
    return [`k:${kind}`, `s:${state}`, `k:${kind}|s:${state}`].map((name) => {
      let keys = this.byFilter.get(name);
      if (!keys) this.byFilter.set(name, (keys = new SortedKeys()));
      return keys;
    });
  }

  add(c: Credential): void {
    const order = orderKey(c.key);
    if (this.entries.has(order)) return;
    const entry: Entry = { c, state: stateOf(c) };
    this.entries.set(order, entry);
    this.all.add(order);
    for (const keys of this.sets(c.id.kind, entry.state)) keys.add(order);
  }

  remove(c: Credential): void {
    const order = orderKey(c.key);
    const entry = this.entries.get(order);
    if (!entry || entry.c !== c) return;
    this.entries.delete(order);
    this.all.remove(order);
    for (const keys of this.sets(c.id.kind, entry.state)) keys.remove(order);
  }

  /** The credential's state may have changed: it moves to its new state's indexes. */
  update(c: Credential): void {
    const order = orderKey(c.key);
    const entry = this.entries.get(order);
    if (!entry || entry.c !== c) return;
    const state = stateOf(c);
    if (state === entry.state) return;
    for (const keys of this.sets(c.id.kind, entry.state)) keys.remove(order);
    entry.state = state;
    for (const keys of this.sets(c.id.kind, state)) keys.add(order);
  }

  /** How many credentials are in each state. */
  counts(): Record<CredentialStateName | "total", number> {
    const out = { total: this.all.size, ok: 0, failing: 0, down: 0, idle: 0 };
    for (const state of CREDENTIAL_STATES) out[state] = this.byFilter.get(`s:${state}`)?.size ?? 0;
    return out;
  }

  /**
   * Up to `limit` credentials after `after`, in order, that pass the
   * filters: a binary search for the start in the narrowest index, then the
   * page. Keyed by the last credential seen, so credentials that come or go
   * between two pages do not make the others repeat or go missing.
   */
  page(q: IndexQuery): IndexPage {
    return q.appId !== undefined ? this.appPage(q, q.appId) : this.indexPage(q);
  }

  /** One app's credentials are few and contiguous: every one is looked at, so the total is exact. */
  private appPage(q: IndexQuery, appId: string): IndexPage {
    const keys = this.all.keys();
    const end = firstAtOrAfter(keys, `${appId}\u0004`);
    const out: Credential[] = [];
    let total = 0;
    let more = false;
    for (let i = firstAtOrAfter(keys, appId); i < end; i++) {
      this.visited++;
      const entry = this.entries.get(keys[i]!);
      if (!entry || !this.matches(entry, q)) continue;
      total++;
      if (q.after !== undefined && keys[i]! <= q.after) continue;
      if (out.length < q.limit) out.push(entry.c);
      else more = true;
    }
    return { credentials: out, next: more ? orderKey(out.at(-1)!.key) : undefined, total };
  }

  /** The kind's, the state's, both's or every credential's index, from `after`, looking at `budget` at most. */
  private indexPage(q: IndexQuery): IndexPage {
    const name = q.kind !== undefined && q.state !== undefined ? `k:${q.kind}|s:${q.state}` : q.kind !== undefined ? `k:${q.kind}` : q.state !== undefined ? `s:${q.state}` : undefined;
    const keys = name === undefined ? this.all.keys() : (this.byFilter.get(name)?.keys() ?? []);
    const start = firstAfter(keys, q.after);
    const out: Credential[] = [];
    let i = start;
    for (; i < keys.length && out.length < q.limit && i - start < q.budget; i++) {
      this.visited++;
      const entry = this.entries.get(keys[i]!);
      if (entry && this.matches(entry, q)) out.push(entry.c);
    }
    // Continue after the last credential looked at: the page's last, or where the budget ran out.
    return { credentials: out, next: i < keys.length ? keys[i - 1] : undefined, total: q.accept === undefined ? keys.length : undefined };
  }

  private matches(entry: Entry, q: IndexQuery): boolean {
    const c = entry.c;
    if (q.kind !== undefined && c.id.kind !== q.kind) return false;
    // The index's state is the one last told; the page shows the state now (a value may have expired this very millisecond).
    if (q.state !== undefined && stateOf(c) !== q.state) return false;
    return q.accept === undefined || q.accept(c);
  }
}

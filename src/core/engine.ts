/**
 * Every configured credential, by key: the engine creates each one's state and
 * refresher from its issuer, starts and stops them, applies a reload, and
 * hands a ticket issuer its parent token. It knows no kinds.
 */
import type { Clock } from "../clock.js";
import type { Logger } from "../log.js";
import type { Coordinator } from "./coordinator.js";
import { credentialKey, type CredentialId } from "./credential.js";
import { UnknownCredentialError } from "./errors.js";
import type { Fetched, Issuer, ParentToken } from "./issuer.js";
import type { QuotaPolicy } from "./quota-guard.js";
import { Credential } from "./refresher.js";
import type { Random, RefreshPolicy, RetryPolicy } from "./schedule.js";
import { toStored } from "./state.js";
import type { StoredCredential, TokenStore } from "./store.js";

export interface EngineOptions {
  store: TokenStore;
  clock: Clock;
  refresh: RefreshPolicy;
  retry: RetryPolicy;
  quota: QuotaPolicy;
  log: Logger;
  random?: Random;
  /** Replicas sharing a store (Redis): cluster-wide refresh lock, shared values, pushed updates. */
  coordinator?: Coordinator;
}

/** A value a new credential starts from (an authorization's token), instead of fetching one. */
export interface Seed {
  fetched: Fetched;
  /** When the call that issued it was made (ms since the epoch). */
  requestedAt: number;
}

export interface ReconcileResult {
  added: string[];
  removed: string[];
  /** Credentials whose secret or endpoint changed. */
  updated: string[];
}

/** The config's credentials; an Open Platform's are in a group of their own ("platform:<component appid>"). */
export const CONFIG_GROUP = "config";

export class CredentialEngine {
  private readonly credentials = new Map<string, Credential>();
  /** Which group each credential belongs to: reconcile() only touches its own. */
  private readonly groups = new Map<string, string>();
  private started = false;

  private constructor(
    private readonly opts: EngineOptions,
    /** What the store held at start, for credentials added later by a reload. */
    private readonly stored: Map<string, StoredCredential>,
  ) {}

  /** Loads the store, then creates (but does not start) each credential. */
  static async create(opts: EngineOptions, issuers: readonly Issuer[]): Promise<CredentialEngine> {
    const engine = new CredentialEngine(opts, await opts.store.load());
    for (const issuer of issuers) engine.add(issuer, CONFIG_GROUP);
    // A value another replica obtained reaches this one's callers and watchers at once.
    opts.coordinator?.onToken((stored) => engine.credentials.get(stored.key)?.adopt(stored));
    return engine;
  }

  start(): void {
    this.started = true;
    for (const c of this.credentials.values()) c.start();
  }

  /**
   * Applies a new set of issuers to a group (a config reload, an Open
   * Platform's authorizers changing): new credentials start at once (from
   * `seeds`' value when one is given), removed ones stop, a changed secret or
   * endpoint is used from the next upstream call on, without losing the
   * current value. A key another group holds is skipped, and returned in `taken`.
   */
  reconcile(issuers: readonly Issuer[], group = CONFIG_GROUP, seeds?: ReadonlyMap<string, Seed>): ReconcileResult & { taken: string[] } {
    const result: ReconcileResult & { taken: string[] } = { added: [], removed: [], updated: [], taken: [] };
    const wanted = new Map(issuers.map((i) => [credentialKey(i.id), i]));
    for (const [key, c] of this.credentials) {
      if (wanted.has(key) || this.groups.get(key) !== group) continue;
      c.stop("removed");
      // Should a later reload add it back, it starts from here, not from what
      // the store held at startup (an older value WeChat may have replaced).
      // An Open Platform's authorizer leaves when it de-authorized: its token
      // is revoked, and a new authorization must not start from it; only its
      // version is kept, so a later one still counts upwards (a shared store
      // refuses a lower version).
      const latest = c.latest();
      if (group !== CONFIG_GROUP) this.stored.set(key, { key, value: "", version: c.highestVersion(), obtainedAt: 0, expiresAt: 0 });
      else if (latest) this.stored.set(key, { ...toStored(latest), version: c.highestVersion() });
      this.credentials.delete(key);
      this.groups.delete(key);
      result.removed.push(key);
    }
    for (const [key, issuer] of wanted) {
      const existing = this.credentials.get(key);
      if (existing && this.groups.get(key) !== group) {
        result.taken.push(key);
      } else if (!existing) {
        const c = this.add(issuer, group);
        const seed = seeds?.get(key);
        if (seed) c.offer(seed.fetched, seed.requestedAt);
        if (this.started) c.start();
        result.added.push(key);
      } else if (existing.replaceIssuer(issuer)) {
        result.updated.push(key);
      }
    }
    return result;
  }

  /** Every credential whose last attempt failed tries again at once (an operator fixed the cause). Returns their keys. */
  retryFailing(): string[] {
    return this.all()
      .filter((c) => c.retryNow())
      .map((c) => c.key);
  }

  stop(): void {
    for (const c of this.credentials.values()) c.stop();
  }

  /** After stop(): lets fetches in flight land (up to ms), so the store gets what WeChat just issued. */
  async settle(ms: number): Promise<void> {
    await Promise.all(this.all().map((c) => c.settle(ms)));
  }

  /** The credential; throws UnknownCredentialError when it is not configured. */
  find(id: CredentialId): Credential {
    const c = this.credentials.get(credentialKey(id));
    if (!c) throw new UnknownCredentialError(id);
    return c;
  }

  byKey(key: string): Credential | undefined {
    return this.credentials.get(key);
  }

  all(): Credential[] {
    return [...this.credentials.values()];
  }

  /** A ticket's parent token, looked up at each use (a reload may have replaced it). */
  parent(id: CredentialId): ParentToken {
    return {
      get: () => this.find(id).get(),
      forceRefresh: (stale, caller) => this.find(id).forceRefresh(stale, caller),
    };
  }

  /** The group holding a key, if any. */
  groupOf(key: string): string | undefined {
    return this.groups.get(key);
  }

  /** The keys of a group's credentials. */
  keysOf(group: string): string[] {
    return [...this.groups].filter(([, g]) => g === group).map(([key]) => key);
  }

  private add(issuer: Issuer, group: string): Credential {
    const key = credentialKey(issuer.id);
    const c = new Credential(key, { ...this.opts, issuer, stored: this.stored.get(key) });
    this.credentials.set(key, c);
    this.groups.set(key, group);
    return c;
  }
}

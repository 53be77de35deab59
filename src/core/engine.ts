/**
 * Every credential, by key: the engine creates each one from its issuer,
 * starts and stops it, links it to its parent (a ticket's access_token, an
 * authorizer's component token), and tells subscribers (gRPC health, watch
 * streams, metrics) when one is added or removed. Adding or removing one
 * credential touches only that credential: a platform with 100,000
 * authorizers gains its 100,001st in O(1). Refreshes of every credential run
 * from one scheduler (src/core/scheduler.ts), in lanes (src/core/lane.ts).
 * It knows no kinds.
 */
import type { Clock } from "../clock.js";
import type { Logger } from "../log.js";
import type { Coordinator } from "./coordinator.js";
import { credentialKey, type CredentialId } from "./credential-id.js";
import { UnknownCredentialError, type RefreshError } from "./errors.js";
import type { Fetched, Issuer, ParentToken } from "./issuer.js";
import { freeLane, Lane, type LaneOptions } from "./lane.js";
import type { QuotaPolicy } from "./quota-guard.js";
import { Credential, type CredentialContext } from "./credential.js";
import { CredentialIndex } from "./credential-index.js";
import { soleOwner, type Ownership } from "./ownership.js";
import { Scheduler } from "./scheduler.js";
import type { Random, RefreshPolicy, RetryPolicy } from "./schedule.js";
import { toStored } from "./state.js";
import type { StoredCredential, TokenStore } from "./store.js";

/** Which replica refreshes what (src/core/ownership.ts): all it needs of one. */
export type EngineOwnership = Pick<Ownership, "owns" | "liveCount" | "onChange"> & { readonly id?: string };

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
  /** Replicas sharing a store: which one refreshes which credential. Default: this process, all. */
  ownership?: EngineOwnership;
  /** How long a replica waits for a credential's owner before it looks again (default 15 s). */
  ownerGraceMs?: number;
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

/** A credential joined or left (a reload, an authorization, a de-authorization, a sync). */
export interface MembershipEvent {
  type: "added" | "removed";
  credential: Credential;
}

/** The config's credentials; an Open Platform's are in a lane of their own ("platform:<component appid>"). */
export const CONFIG_GROUP = "config";

export class CredentialEngine {
  private readonly credentials = new Map<string, Credential>();
  private readonly lanes = new Map<string, Lane>();
  /** Each group's credentials: a reload or a scrape walks one group, not every platform's accounts. */
  private readonly groups = new Map<string, Set<Credential>>();
  /** Every credential in order, by kind and by state: ListCredentials' pages (credential-index.ts). */
  readonly index = new CredentialIndex();
  private readonly membership = new Set<(event: MembershipEvent) => void>();
  /** The credentials fetched with each token (its tickets), by the token's key: told when its value is revoked or comes back. */
  private readonly children = new Map<string, Set<Credential>>();
  private readonly scheduler: Scheduler;
  private readonly ctx: CredentialContext;
  private readonly ownership: EngineOwnership;
  /** How many of the credentials this replica owns: kept as they come and go, recounted when the live replicas change (metrics read it at every scrape). */
  private owned = 0;
  private started = false;

  private constructor(
    private readonly opts: EngineOptions,
    /** What the store held at start and no credential has taken yet (a reload or an authorization may add it later). */
    private readonly stored: Map<string, StoredCredential>,
  ) {
    this.scheduler = new Scheduler(opts.clock);
    this.ownership = opts.ownership ?? soleOwner;
    this.ctx = {
      clock: opts.clock,
      refresh: opts.refresh,
      retry: opts.retry,
      quota: opts.quota,
      store: opts.store,
      log: opts.log,
      random: opts.random ?? Math.random,
      coordinator: opts.coordinator,
      scheduler: this.scheduler,
      owners: this.ownership,
      ownerGraceMs: opts.ownerGraceMs ?? 15_000,
      parent: (id) => this.parent(id),
      revocation: (key, error) => this.revocation(key, error),
      // One process: no replica to name.
      replicaId: opts.ownership?.id,
      stateChanged: (c) => this.index.update(c),
    };
    this.lanes.set(CONFIG_GROUP, freeLane(opts.clock));
  }

  /** Loads the store, then creates (but does not start) each credential. */
  static async create(opts: EngineOptions, issuers: readonly Issuer[]): Promise<CredentialEngine> {
    const engine = new CredentialEngine(opts, await opts.store.load());
    for (const issuer of issuers) engine.add(issuer, CONFIG_GROUP);
    // A value another replica obtained reaches this one's callers and watchers at once.
    opts.coordinator?.onToken((stored) => engine.credentials.get(stored.key)?.adopt(stored));
    engine.ownership.onChange(() => engine.ownersChanged());
    return engine;
  }

  /** The lane of a group, made with `options` the first time it is asked for. */
  lane(group: string, options: LaneOptions = {}): Lane {
    let lane = this.lanes.get(group);
    if (!lane) {
      lane = new Lane(group, options, this.opts.clock);
      lane.setReplicas(this.ownership.liveCount());
      this.lanes.set(group, lane);
    }
    return lane;
  }

  start(): void {
    this.started = true;
    for (const c of this.credentials.values()) c.start();
  }

  /** How many credentials are held, and how many of them this replica owns (plans the refreshes of): O(1). */
  counts(): { held: number; owned: number } {
    return { held: this.credentials.size, owned: this.owned };
  }

  /** Told of every credential added or removed from now on. Returns an unsubscribe. */
  onMembership(listener: (event: MembershipEvent) => void): () => void {
    this.membership.add(listener);
    return () => this.membership.delete(listener);
  }

  /**
   * Adds one credential to a group and starts it (once the engine runs),
   * from `seed` when given. Returns it, or undefined when its key is held by
   * another group (an appid configured under apps and also authorized on a platform).
   * A key the group holds already keeps its credential, with the newer issuer.
   */
  add(issuer: Issuer, group: string = CONFIG_GROUP, seed?: Seed): Credential | undefined {
    const key = credentialKey(issuer.id);
    const existing = this.credentials.get(key);
    if (existing) {
      if (existing.lane.name !== group) return undefined;
      existing.replaceIssuer(issuer);
      // Authorized again: the new authorization's token replaces the held one.
      if (seed) existing.offer(seed.fetched, seed.requestedAt);
      return existing;
    }
    const stored = this.stored.get(key);
    this.stored.delete(key);
    const c = new Credential(key, issuer, this.ctx, this.lane(group), stored);
    this.credentials.set(key, c);
    let members = this.groups.get(group);
    if (!members) this.groups.set(group, (members = new Set()));
    members.add(c);
    this.index.add(c);
    if (this.ownership.owns(key)) this.owned++;
    this.link(c, true);
    if (seed) c.offer(seed.fetched, seed.requestedAt);
    if (this.started) c.start();
    for (const l of this.membership) l({ type: "added", credential: c });
    return c;
  }

  /**
   * Stops and removes one credential. Should it come back (a reload, a new
   * authorization), it starts from what it held, not from what the store
   * held at startup (an older value WeChat may have replaced); a platform's
   * authorizer leaves when it de-authorized: its token is revoked, and only
   * its version is kept, so a later one still counts upwards.
   */
  remove(key: string): boolean {
    const c = this.credentials.get(key);
    if (!c) return false;
    c.stop("removed");
    const latest = c.latest();
    if (c.lane.name !== CONFIG_GROUP) this.stored.set(key, { key, value: "", version: c.highestVersion(), obtainedAt: 0, expiresAt: 0 });
    else if (latest) this.stored.set(key, { ...toStored(latest), version: c.highestVersion() });
    this.credentials.delete(key);
    this.groups.get(c.lane.name)?.delete(c);
    this.index.remove(c);
    if (this.ownership.owns(key)) this.owned--;
    this.link(c, false);
    for (const l of this.membership) l({ type: "removed", credential: c });
    return true;
  }

  /**
   * Applies a new set of issuers to a group (a config reload): new
   * credentials start at once, removed ones stop, a changed secret or
   * endpoint is used from the next upstream call on, without losing the
   * current value. A key another group holds is skipped, and returned in
   * `taken`. Costs O(group + issuers): for the config's apps, not for a platform's accounts.
   */
  reconcile(issuers: readonly Issuer[], group = CONFIG_GROUP): ReconcileResult & { taken: string[] } {
    const result: ReconcileResult & { taken: string[] } = { added: [], removed: [], updated: [], taken: [] };
    const wanted = new Map(issuers.map((i) => [credentialKey(i.id), i]));
    for (const c of [...this.inGroup(group)]) {
      if (wanted.has(c.key)) continue;
      this.remove(c.key);
      result.removed.push(c.key);
    }
    for (const [key, issuer] of wanted) {
      const existing = this.credentials.get(key);
      if (existing && existing.lane.name !== group) result.taken.push(key);
      else if (!existing) {
        this.add(issuer, group);
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
    this.scheduler.stop();
  }

  /** After stop(): lets fetches in flight land (up to ms), so the store gets what WeChat just issued. */
  async settle(ms: number): Promise<void> {
    await Promise.all(this.all().map((c) => c.settle(ms)));
  }

  /** The credential; throws UnknownCredentialError when it is not held. */
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

  /** How many credentials are held. */
  get size(): number {
    return this.credentials.size;
  }

  /** The credentials of one group (status, metrics). */
  inGroup(group: string): Iterable<Credential> {
    return this.groups.get(group) ?? [];
  }

  /** This replica's id among replicas on Redis; "" for one process. */
  get replicaId(): string {
    return this.opts.ownership?.id ?? "";
  }

  /** Tasks in the scheduler: a refresh and an expiry watch per credential at most (tests, status). */
  get scheduled(): number {
    return this.scheduler.size;
  }

  /** A credential's parent token, looked up at each use (a reload may have replaced it). */
  parent(id: CredentialId): ParentToken {
    return {
      get: () => this.find(id).get(),
      forceRefresh: (stale, caller, refused) => this.find(id).forceRefresh(stale, caller, undefined, { refused }),
    };
  }

  /** The group holding a key, if any. */
  groupOf(key: string): string | undefined {
    return this.credentials.get(key)?.lane.name;
  }

  private link(c: Credential, add: boolean): void {
    const parent = c.parentKey;
    if (parent === undefined) return;
    const set = this.children.get(parent) ?? new Set();
    if (add) this.children.set(parent, set.add(c));
    else if (set.delete(c) && set.size === 0) this.children.delete(parent);
  }

  /** A token's value was revoked (error) or came back (undefined): the credentials fetched with it follow. */
  private revocation(key: string, error: RefreshError | undefined): void {
    for (const child of this.children.get(key) ?? []) {
      if (error) child.parentRevoked(error);
      else child.parentRevived();
    }
  }

  /** A replica joined or died: lanes share the ceiling anew, and each credential's owner plans its refresh. */
  private ownersChanged(): void {
    const live = this.ownership.liveCount();
    for (const lane of this.lanes.values()) lane.setReplicas(live);
    this.owned = 0;
    for (const c of this.credentials.values()) {
      c.ownersChanged();
      if (this.ownership.owns(c.key)) this.owned++;
    }
    this.opts.log.info({ replicas: live, credentials: this.credentials.size }, "replicas changed: refresh work split anew");
  }
}

/**
 * One credential's state: the value held, its version line, and who listens.
 * It knows nothing of how values are fetched or when; the refresher
 * (credential.ts) feeds it, and the gRPC layer and watchers read it.
 */
import type { Clock } from "../clock.js";
import type { Logger } from "../log.js";
import { describeRecord, makeRecord, type CredentialId, type CredentialRecord } from "./credential-id.js";
import type { Schedulable, Scheduler } from "./scheduler.js";
import type { StoredCredential } from "./store.js";

export type TokenListener = (token: CredentialRecord) => void;
export type HealthListener = (healthy: boolean) => void;

/** What the state needs of the credential it belongs to. */
export interface StateOwner {
  readonly id: CredentialId;
  readonly key: string;
  /** Made at first use. */
  readonly log: Logger;
  /** When to refresh a value obtained (or adopted) at `from` that expires at `expiresAt`. */
  plan(from: number, expiresAt: number): number;
  /** Paced lanes (an Open Platform's thousands of authorizers) log a new value at debug level. */
  readonly quiet: boolean;
  /** Told when the value turns valid or stops being valid (the status index follows). */
  healthChanged?(): void;
}

/** What the store keeps of a record (the refresh time is planned again on load). */
export function toStored(t: CredentialRecord): StoredCredential {
  return { key: t.key, value: t.value, version: t.version, obtainedAt: t.obtainedAt, expiresAt: t.expiresAt, refreshAt: t.refreshAt };
}

/** It is its own expiry watch in the engine's scheduler (no extra object per credential). */
export class CredentialState implements Schedulable {
  private record: CredentialRecord | undefined;
  /** Highest version ever held (a stored, expired value still counts). */
  private version: number;
  heapAt = 0;
  heapIndex = -1;
  heapSeq = 0;
  private lastHealthy = false;
  private stopped = false;
  /** A value withdrawn before its expiry (see withdraw), with that expiry. */
  private withdrawn: { value: string; expiresAt: number } | undefined;
  // Made at the first subscriber: most credentials never have one.
  private tokenListeners: Set<TokenListener> | undefined;
  private healthListeners: Set<HealthListener> | undefined;

  constructor(
    private readonly owner: StateOwner,
    private readonly clock: Clock,
    private readonly scheduler: Scheduler,
    stored?: StoredCredential,
  ) {
    this.version = stored?.version ?? 0;
    if (stored && stored.expiresAt > clock.now()) this.record = this.successor(undefined, stored, stored.obtainedAt);
  }

  get id(): CredentialId {
    return this.owner.id;
  }

  get key(): string {
    return this.owner.key;
  }

  private get log(): Logger {
    return this.owner.log;
  }

  private plan(from: number, expiresAt: number): number {
    return this.owner.plan(from, expiresAt);
  }

  isValid(token: CredentialRecord): boolean {
    return token.expiresAt > this.clock.now();
  }

  /** The current value if it is still valid. */
  current(): CredentialRecord | undefined {
    const t = this.record;
    return t && this.isValid(t) ? t : undefined;
  }

  /** The newest value held, valid or not. */
  latest(): CredentialRecord | undefined {
    return this.record;
  }

  highestVersion(): number {
    return this.version;
  }

  healthy(): boolean {
    return this.current() !== undefined;
  }

  /**
   * A value WeChat just answered. A new value gets the next version; the value
   * already held keeps its version, obtained time and expiry: WeChat answers
   * the same ticket (or WeCom token) again with expires_in 7200, and believing
   * that would serve it past its real end. A re-fetch never extends a life.
   */
  accept(value: string, obtainedAt: number, expiresAt: number): { record: CredentialRecord; same: boolean } {
    const previous = this.record;
    const same = previous?.value === value;
    if (!same) this.version += 1;
    const record = this.successor(previous, { key: this.key, value, version: this.version, obtainedAt, expiresAt }, obtainedAt);
    this.install(record, previous, "fetched");
    return { record, same };
  }

  /**
   * Takes a value another replica obtained (shared store or its push) if it
   * is newer than ours. Returns it, or undefined when it changed nothing.
   */
  adopt(stored: StoredCredential): CredentialRecord | undefined {
    const held = this.record;
    if (this.stopped || stored.key !== this.key || stored.expiresAt <= this.clock.now()) return undefined;
    if (held?.value === stored.value) {
      // Another replica asked WeChat and got the same value: its later plan is the cluster's.
      const later = stored.refreshAt !== undefined && stored.refreshAt > held.refreshAt && stored.refreshAt <= held.expiresAt;
      return later ? this.replan(stored.refreshAt!) : undefined;
    }
    if (stored.version <= (held?.version ?? 0)) return undefined;
    this.version = Math.max(this.version, stored.version);
    const record = this.successor(held, stored, stored.obtainedAt);
    this.install(record, held, "shared");
    return record;
  }

  /**
   * The held value ends no later than `by` (WeChat may have issued its
   * successor in an answer we lost); its refresh is planned inside that. Returns
   * the shortened record, or undefined when nothing changed.
   */
  shorten(by: number): CredentialRecord | undefined {
    const t = this.record;
    if (!t || t.expiresAt <= by) return undefined;
    const now = this.clock.now();
    this.record = makeRecord({ ...t, expiresAt: by, refreshAt: Math.min(t.refreshAt, Math.max(now, this.plan(now, by))) });
    this.watchExpiry();
    return this.record;
  }

  /**
   * WeChat said the value held no longer works: it ends now. Its expiry is
   * kept aside: should WeChat answer the same value again (a ticket outlives
   * the token that was revoked), it lives to that expiry again, no longer.
   */
  withdraw(): CredentialRecord | undefined {
    const t = this.record;
    if (!t || !this.isValid(t)) return undefined;
    this.withdrawn = { value: t.value, expiresAt: t.expiresAt };
    return this.shorten(this.clock.now());
  }

  /** Plans the refresh of the value held again (after a same-value answer, say). */
  replan(refreshAt: number): CredentialRecord | undefined {
    const t = this.record;
    if (!t) return undefined;
    this.record = makeRecord({ ...t, refreshAt });
    return this.record;
  }

  onToken(listener: TokenListener): () => void {
    const set = (this.tokenListeners ??= new Set());
    set.add(listener);
    return () => set.delete(listener);
  }

  onHealth(listener: HealthListener): () => void {
    const set = (this.healthListeners ??= new Set());
    set.add(listener);
    return () => set.delete(listener);
  }

  listenerCount(): number {
    return this.tokenListeners?.size ?? 0;
  }

  /** Health must turn NOT_SERVING the moment a value expires, not at the next call. */
  watchExpiry(): void {
    const t = this.record;
    if (!t || this.stopped) {
      this.scheduler.cancel(this);
      return;
    }
    this.scheduler.schedule(this, t.expiresAt);
  }

  /** The held value's expiry came (the scheduler's call). */
  fire(): void {
    const t = this.record;
    if (!t || this.stopped || t.expiresAt > this.clock.now()) return;
    // An on-demand credential nobody reads is left to expire on purpose: not an error.
    if (this.owner.quiet) this.log.debug(describeRecord(t), "expired with no replacement");
    // A value WeChat keeps until its expiry (tickets, WeCom tokens) is replaced only then: its refresh is planned at this very moment (sameValueRetryAt).
    else if (t.refreshAt >= t.expiresAt) this.log.info(describeRecord(t), "expired; WeChat hands out the next one only now, being fetched");
    else this.log.error(describeRecord(t), "expired with no replacement");
    this.updateHealth();
  }

  updateHealth(): void {
    const healthy = this.healthy();
    if (healthy === this.lastHealthy) return;
    this.lastHealthy = healthy;
    this.owner.healthChanged?.();
    if (this.healthListeners) for (const listener of [...this.healthListeners]) listener(healthy);
  }

  stop(): void {
    this.stopped = true;
    this.scheduler.cancel(this);
  }

  private successor(previous: CredentialRecord | undefined, incoming: StoredCredential, planFrom: number): CredentialRecord {
    const same = previous?.value === incoming.value;
    const withdrawn = same && this.withdrawn?.value === incoming.value ? this.withdrawn.expiresAt : 0;
    const expiresAt = same ? Math.min(Math.max(previous.expiresAt, withdrawn), incoming.expiresAt) : incoming.expiresAt;
    return makeRecord({
      key: this.key,
      id: this.id,
      value: incoming.value,
      version: same ? previous.version : incoming.version,
      obtainedAt: same ? previous.obtainedAt : incoming.obtainedAt,
      expiresAt,
      refreshAt: laterPlan(this.plan(same ? previous.obtainedAt : planFrom, expiresAt), incoming.refreshAt, expiresAt),
    });
  }

  private install(record: CredentialRecord, previous: CredentialRecord | undefined, how: "fetched" | "shared"): void {
    const same = previous?.value === record.value;
    this.record = record;
    this.withdrawn = undefined;
    const fields = { ...describeRecord(record), how, previous: previous?.fingerprint };
    const message = same ? "same value again; its expiry stands" : "new value";
    if (this.owner.quiet) this.log.debug(fields, message);
    else this.log.info(fields, message);
    this.watchExpiry();
    if (!same && this.tokenListeners) for (const listener of [...this.tokenListeners]) listener(record);
    this.updateHealth();
  }
}

/** A stored plan that is later than ours (a same-value answer moved it to expiry) wins; never past expiry. */
function laterPlan(planned: number, stored: number | undefined, expiresAt: number): number {
  return stored !== undefined && stored > planned && stored <= expiresAt ? stored : planned;
}

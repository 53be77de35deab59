/**
 * One credential's state: the value held, its version line, and who listens.
 * It knows nothing of how values are fetched or when; the refresher
 * (refresher.ts) feeds it, and the gRPC layer and watchers read it.
 */
import type { Clock, TimerHandle } from "../clock.js";
import type { Logger } from "../log.js";
import { describeRecord, makeRecord, type CredentialId, type CredentialRecord } from "./credential.js";
import type { StoredCredential } from "./store.js";

export type TokenListener = (token: CredentialRecord) => void;
export type HealthListener = (healthy: boolean) => void;

/** When to refresh a value obtained (or adopted) at `from` that expires at `expiresAt`. */
export type PlanRefresh = (from: number, expiresAt: number) => number;

/** What the store keeps of a record (the refresh time is planned again on load). */
export function toStored(t: CredentialRecord): StoredCredential {
  return { key: t.key, value: t.value, version: t.version, obtainedAt: t.obtainedAt, expiresAt: t.expiresAt, refreshAt: t.refreshAt };
}

export class CredentialState {
  private record: CredentialRecord | undefined;
  /** Highest version ever held (a stored, expired value still counts). */
  private version: number;
  private expiryTimer: TimerHandle | undefined;
  private lastHealthy = false;
  private stopped = false;
  private readonly tokenListeners = new Set<TokenListener>();
  private readonly healthListeners = new Set<HealthListener>();

  constructor(
    readonly id: CredentialId,
    readonly key: string,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly plan: PlanRefresh,
    stored?: StoredCredential,
  ) {
    this.version = stored?.version ?? 0;
    if (stored && stored.expiresAt > clock.now()) this.record = this.successor(undefined, stored, stored.obtainedAt);
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

  /** Plans the refresh of the value held again (after a same-value answer, say). */
  replan(refreshAt: number): CredentialRecord | undefined {
    const t = this.record;
    if (!t) return undefined;
    this.record = makeRecord({ ...t, refreshAt });
    return this.record;
  }

  onToken(listener: TokenListener): () => void {
    this.tokenListeners.add(listener);
    return () => this.tokenListeners.delete(listener);
  }

  onHealth(listener: HealthListener): () => void {
    this.healthListeners.add(listener);
    return () => this.healthListeners.delete(listener);
  }

  listenerCount(): number {
    return this.tokenListeners.size;
  }

  /** Health must turn NOT_SERVING the moment a value expires, not at the next call. */
  watchExpiry(): void {
    if (this.expiryTimer) this.clock.clearTimeout(this.expiryTimer);
    const t = this.record;
    if (!t || this.stopped) return;
    this.expiryTimer = this.clock.setTimeout(() => {
      this.expiryTimer = undefined;
      if (this.record === t) {
        this.log.error(describeRecord(t), "expired with no replacement");
        this.updateHealth();
      }
    }, t.expiresAt - this.clock.now());
  }

  updateHealth(): void {
    const healthy = this.healthy();
    if (healthy === this.lastHealthy) return;
    this.lastHealthy = healthy;
    for (const listener of [...this.healthListeners]) listener(healthy);
  }

  stop(): void {
    this.stopped = true;
    if (this.expiryTimer) this.clock.clearTimeout(this.expiryTimer);
    this.expiryTimer = undefined;
  }

  private successor(previous: CredentialRecord | undefined, incoming: StoredCredential, planFrom: number): CredentialRecord {
    const same = previous?.value === incoming.value;
    const expiresAt = same ? Math.min(previous.expiresAt, incoming.expiresAt) : incoming.expiresAt;
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
    this.log.info({ ...describeRecord(record), how, previous: previous?.fingerprint }, same ? "same value again; its expiry stands" : "new value");
    this.watchExpiry();
    if (!same) for (const listener of [...this.tokenListeners]) listener(record);
    this.updateHealth();
  }
}

/** A stored plan that is later than ours (a same-value answer moved it to expiry) wins; never past expiry. */
function laterPlan(planned: number, stored: number | undefined, expiresAt: number): number {
  return stored !== undefined && stored > planned && stored <= expiresAt ? stored : planned;
}

/**
 * One credential: its state and its single-flight refresher. However many
 * callers ask at once, at most one upstream fetch per credential is in
 * flight. While a refresh is in flight or failing, the current value is
 * served as long as it is valid; an expired value is never served. What is
 * fetched, and how, is the issuer's business: this file knows no kinds.
 *
 * Data flows one way: issuer (upstream) -> this refresher -> state -> (store, listeners).
 */
import type { Clock } from "../clock.js";
import type { Logger } from "../log.js";
import { isUpstreamError, UpstreamTransportError } from "../upstream/errors.js";
import { CoordinationError, type Coordinator } from "./coordinator.js";
import { credentialKey, describeId, describeRecord, logFields, type CredentialId, type CredentialRecord } from "./credential-id.js";
import { isRefreshError, mayHaveIssued, revokesValue, SameTokenError, StoppedError, type RefreshError } from "./errors.js";
import { Failures } from "./failures.js";
import type { FetchContext, Fetched, Issuer, ParentToken } from "./issuer.js";
import { CredentialBudgets, QuotaGuardError, type AppQuota, type QuotaPolicy } from "./quota-guard.js";
import { nextQuotaDay, planRefresh, sameValueRetryAt, successorAskAt, type Random, type RefreshPolicy, type RetryPolicy } from "./schedule.js";
import type { Lane } from "./lane.js";
import type { Ownership } from "./ownership.js";
import { isScheduled, type Schedulable, type Scheduler } from "./scheduler.js";
import { StaleChecks } from "./stale-check.js";
import { CredentialState, toStored, type HealthListener, type TokenListener } from "./state.js";
import type { StoredCredential, TokenStore } from "./store.js";

/** "stale": a forced refresh of a value WeChat refused, which the minimum interval does not hold back (stale-check.ts). */
export type RefreshReason = "startup" | "scheduled" | "retry" | "no-token" | "force" | "stale";


/**
 * What every credential of an engine shares: one object, not a copy per
 * credential (100,000 authorizers hold a pointer to it, nothing more).
 */
export interface CredentialContext {
  clock: Clock;
  refresh: RefreshPolicy;
  retry: RetryPolicy;
  quota: QuotaPolicy;
  store: TokenStore;
  log: Logger;
  random: Random;
  scheduler: Scheduler;
  /** Which replica refreshes what (src/core/ownership.ts); one process owns everything. */
  owners: Pick<Ownership, "owns">;
  /** How long a replica that does not own a credential waits before it looks again whether its owner refreshed it. */
  ownerGraceMs: number;
  /** A ticket's parent token, an authorizer's component token: the engine's link, looked up at each use. */
  parent(id: CredentialId): ParentToken;
  /** Replicas sharing a store: a cluster-wide refresh lock and the shared value. */
  coordinator?: Coordinator;
  /** Its value was revoked (with the error that said so) or, error undefined, a value came after that: the engine tells the credentials fetched with it. */
  revocation?(key: string, error: RefreshError | undefined): void;
  /** Replicas on Redis: this replica's id, recorded with each value it obtains (status). */
  replicaId?: string;
  /** Its value turned valid or invalid, or a run of failures started or ended: the engine's status index follows. */
  stateChanged?(credential: Credential): void;
}

/** What ListCredentials shows of one credential (src/api/credentials.ts): never the value itself. */
export interface CredentialSnapshot {
  latest: CredentialRecord | undefined;
  healthy: boolean;
  failure: { error: RefreshError; since: number; attempts: number } | undefined;
  /** When this replica next refreshes (or retries, or looks at) it; undefined when nothing is planned. */
  nextRefreshAt: number | undefined;
  quota: { used: number; limit: number };
  refreshedBy: string | undefined;
}

/** A refresh planned no earlier than this share of a value's life: the room a paced lane spreads a herd over. */
const EARLIEST_SHARE = 0.1;

export interface ForceRefreshResult {
  token: CredentialRecord;
  /** True when this call caused or joined an upstream refresh. */
  refreshed: boolean;
}

/** It is its own refresh entry in the engine's scheduler (no extra object per credential). */
export class Credential implements Schedulable {
  readonly id: CredentialId;
  readonly state: CredentialState;
  private budgetsHeld: CredentialBudgets | undefined;
  private issuer: Issuer;
  private inflight: Promise<CredentialRecord> | undefined;
  private failuresHeld: Failures | undefined;
  private logHeld: Logger | undefined;
  // The next background refresh (or owner check), in the engine's scheduler.
  heapAt = 0;
  heapIndex = -1;
  heapSeq = 0;
  private dueReason: RefreshReason = "scheduled";
  /** The lane slot the next refresh holds, given back when it is planned again. */
  private slot: number | undefined;
  private stopped = false;
  /** A value was handed over by offer() (not fetched, not loaded). */
  private offered = false;
  private started = false;
  /** Bumped by replaceIssuer: a failure with older credentials says nothing about the new ones. */
  private generation = 0;
  /** Answers lost in a row (timeouts, mangled bodies): each doubles the next attempt's wait for its answer. */
  private lostAnswers = 0;
  /** Callers waiting for the next scheduled attempt to start (a GetToken whose deadline reaches it). */
  private attemptWaiters: (() => void)[] | undefined;
  /** Aborts the fetch in flight when stop()'s grace is over. */
  private abort: AbortController | undefined;
  private stopReason: "shutdown" | "removed" = "shutdown";
  /** Whether the plan in the scheduler was made as this credential's owner. */
  private plannedAsOwner = true;
  /** On demand: when a caller last read it (ms), 0 for never since start. */
  private lastReadAt = 0;
  /** ForceRefresh inside the minimum interval asks WeChat about the value first; made at first use. */
  private staleChecksHeld: StaleChecks | undefined;
  /** WeChat said its value (or its parent's) no longer works, and no value came since (see revoke). */
  private revokedBy: RefreshError | undefined;
  /** The replica that obtained the value held (replicas on Redis), for status. */
  private refreshedBy: string | undefined;

  constructor(
    readonly key: string,
    issuer: Issuer,
    private readonly ctx: CredentialContext,
    readonly lane: Lane,
    stored?: StoredCredential,
  ) {
    this.issuer = issuer;
    this.id = issuer.id;
    this.state = new CredentialState(this, ctx.clock, ctx.scheduler, stored);
    this.refreshedBy = stored?.by;
  }

  /** Its log, made at first use: most credentials never log between refreshes. */
  get log(): Logger {
    return (this.logHeld ??= this.ctx.log.child(logFields(this.id)));
  }

  /** When to refresh a value obtained (or adopted) at `from` that expires at `expiresAt`. */
  plan(from: number, expiresAt: number): number {
    const r = this.ctx.refresh;
    const max = this.issuer.maxMarginMs;
    return planRefresh(from, expiresAt, max === undefined ? r : { ...r, marginMs: Math.min(r.marginMs, max) }, this.ctx.random);
  }

  private get failures(): Failures {
    return (this.failuresHeld ??= new Failures(this.id, this.ctx.clock, this.ctx.retry, this.ctx.random, () => this.log, () => this.ctx.stateChanged?.(this)));
  }

  private get budgets(): CredentialBudgets {
    if (!this.budgetsHeld) {
      const { quota, clock, store } = this.ctx;
      const policy = this.issuer.budget === "ticket" ? { ...quota, dailyBudget: quota.ticketDailyBudget ?? quota.dailyBudget } : quota;
      this.budgetsHeld = new CredentialBudgets(this.key, describeId(this.id), policy, clock, store, this.issuer.hourlyLimits);
    }
    return this.budgetsHeld;
  }

  /** The state's call: its value turned valid or invalid. */
  healthChanged(): void {
    this.ctx.stateChanged?.(this);
  }

  /**
   * Status for operators. Reads the quota count without making the
   * credential's budgets (most of 100,000 never need them): a count the
   * store holds for today, else none.
   */
  snapshot(): CredentialSnapshot {
    const run = this.failuresHeld?.run();
    const error = this.failuresHeld?.last();
    const { quota, store, clock } = this.ctx;
    const limit = this.issuer.budget === "ticket" ? (quota.ticketDailyBudget ?? quota.dailyBudget) : quota.dailyBudget;
    let used = this.budgetsHeld?.daily.used().used;
    if (used === undefined) {
      const saved = store.quota(this.key);
      used = saved && saved.day === nextQuotaDay(clock.now()) - 24 * 3600_000 ? saved.used : 0;
    }
    return {
      latest: this.state.latest(),
      healthy: this.state.healthy(),
      failure: run && error && { error, since: run.since, attempts: run.attempts },
      nextRefreshAt: this.nextRefreshAt(),
      quota: { used, limit },
      refreshedBy: this.refreshedBy,
    };
  }

  /** Stores a record, with the replica that obtained it. */
  private save(record: CredentialRecord): void {
    const by = this.refreshedBy;
    this.ctx.store.save(by === undefined ? toStored(record) : { ...toStored(record), by });
  }

  /** Paced lanes hold thousands: routine lines go to debug. */
  get quiet(): boolean {
    return this.lane.paced;
  }

  /** The key of the credential it is fetched with (a ticket's token), if any. */
  get parentKey(): string | undefined {
    return this.issuer.parent && credentialKey(this.issuer.parent);
  }

  /** Whether it is held on demand (refreshed only while read). */
  get onDemand(): boolean {
    return this.lane.idleAfterMs !== undefined;
  }

  /** The credential's own daily count (metrics). */
  get quota(): AppQuota {
    return this.budgets.daily;
  }

  /** Serves the stored value if still valid (no upstream call), else fetches one. */
  start(): void {
    if (this.started) return;
    this.started = true;
    const held = this.state.current();
    if (held) {
      // A value handed over before start (an authorization's token) was logged as "new value" already.
      // At scale the log would hold one line per authorizer: only the config's apps say so.
      if (!this.offered && !this.lane.paced) this.log.info(describeRecord(held), "serving stored value");
      this.state.watchExpiry();
      this.state.updateHealth();
      // On demand, a value nobody read since the start is served while valid, not refreshed.
      if (!this.onDemand) this.scheduleRefresh(held.refreshAt);
    } else if (!this.onDemand) {
      // In a paced lane a first fetch waits for its slot (a restore of thousands); a caller does not wait for it.
      if (this.lane.paced) this.scheduleRefresh(this.ctx.clock.now(), "startup");
      else this.refresh("startup").catch(() => undefined);
    }
  }

  /**
   * Uses a new issuer (a config reload changed the secret or endpoint) from
   * the next upstream call on. Returns false when nothing changed. After a
   * credential or IP error the next attempt is made at once: the change may be the fix.
   */
  replaceIssuer(issuer: Issuer): boolean {
    if (issuer.source === this.issuer.source) return false;
    this.issuer = issuer;
    this.generation++;
    this.log.info({ endpoint: issuer.endpoint }, "credentials updated");
    const kind = this.failuresHeld?.last()?.kind;
    if (this.started && !this.stopped && (kind === "permanent" || kind === "admin")) {
      this.failuresHeld?.clear();
      this.scheduleRefresh(this.ctx.clock.now(), "retry");
    }
    return true;
  }

  /** No more refreshes or timers. A fetch already running may still finish (see settle). */
  stop(reason: "shutdown" | "removed" = "shutdown"): void {
    this.stopped = true;
    this.wakeWaiters();
    this.stopReason = reason;
    this.unschedule();
    this.state.stop();
  }

  /** After stop(): waits up to ms for a fetch in flight (WeChat may have issued a value), then aborts it. */
  async settle(ms: number): Promise<void> {
    const inflight = this.inflight;
    if (!inflight) return;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
    await Promise.race([inflight.then(() => undefined, () => undefined), timeout]);
    clearTimeout(timer);
    if (this.inflight) this.abort?.abort(new StoppedError(this.id));
  }

  // Reads, for the gRPC layer, watchers, health and metrics.
  current(): CredentialRecord | undefined {
    return this.state.current();
  }
  latest(): CredentialRecord | undefined {
    return this.state.latest();
  }
  highestVersion(): number {
    return this.state.highestVersion();
  }
  isValid(t: CredentialRecord): boolean {
    return this.state.isValid(t);
  }
  healthy(): boolean {
    return this.state.healthy();
  }
  onToken(l: TokenListener): () => void {
    return this.state.onToken(l);
  }
  onHealth(l: HealthListener): () => void {
    return this.state.onHealth(l);
  }
  listenerCount(): number {
    return this.state.listenerCount();
  }

  /** The last upstream failure, if the last attempt failed. */
  lastError(): RefreshError | undefined {
    return this.failuresHeld?.last();
  }

  /** When the next background refresh is planned, if one is (status, tests). */
  nextRefreshAt(): number | undefined {
    return isScheduled(this) ? this.heapAt : undefined;
  }

  /**
   * The current valid value; waits for a refresh only when there is none.
   * While the last attempt failed and the next is not due, a caller that can
   * wait (waitMs, from its deadline) past the next attempt joins it and gets
   * its result instead of an error and a retry loop of its own.
   */
  async get(opts: { waitMs?: number } = {}): Promise<CredentialRecord> {
    if (this.onDemand) this.read();
    const valid = this.state.current();
    if (valid) return valid;
    if (this.inflight) return this.inflight;
    const due = this.failuresHeld?.nextAttemptAt();
    const wait = due === undefined ? 0 : due - this.ctx.clock.now();
    if (wait > 0 && wait < (opts.waitMs ?? 0) && !this.stopped) {
      const started = Date.now();
      await new Promise<void>((resolve) => (this.attemptWaiters ??= []).push(resolve));
      if (this.inflight) return this.inflight;
      return this.get({ waitMs: (opts.waitMs ?? 0) - (Date.now() - started) });
    }
    this.failures.throwIfBackingOff(this.state.current(), this.state.latest());
    return this.refresh("no-token");
  }

  /**
   * An operator fixed the cause (the IP whitelist, a reset quota): a
   * credential whose last attempt failed tries again at once. Our own quota
   * guard still applies; a refusal by it is not retried here.
   */
  retryNow(why = "operator request"): boolean {
    // Read without making a failure record: most of a platform's 100,000 credentials never fail.
    const last = this.failuresHeld?.last();
    if (!this.started || this.stopped || !last || last instanceof QuotaGuardError) return false;
    this.failuresHeld?.clear();
    if (!this.lane.paced) this.log.info({ errorKind: last.kind, why }, "retrying at once");
    this.scheduleRefresh(this.ctx.clock.now(), "retry");
    return true;
  }

  /**
   * Passive refresh as compare-and-refresh: refreshes only if `stale` is still
   * the current value (or its fingerprint: a page signed with a ticket never sees it);
   * every concurrent caller with that value shares one upstream call. Inside
   * the minimum interval WeChat is asked about the value first (stale-check.ts).
   * A caller that can wait (waitMs, from its deadline) waits for the next
   * attempt (after a failure) or the interval's end rather than fail;
   * `refused`: WeChat refused the value to the caller itself.
   */
  async forceRefresh(stale: string, caller = "anonymous", beforeUpstream?: () => void, opts: { waitMs?: number; refused?: boolean } = {}): Promise<ForceRefreshResult> {
    const until = Date.now() + (opts.waitMs ?? 0);
    const matches = (t: CredentialRecord) => t.value === stale || t.fingerprint === stale;
    for (let round = 0; ; round++) {
      const held = this.state.latest();
      if (!held || !matches(held)) return { token: await this.get(), refreshed: false };
      // An expired value needs an ordinary refresh, not a forced one (no force budget spent).
      if (!this.state.current()) return { token: await this.get(), refreshed: true };
      if (this.inflight) {
        const joined = await this.inflight;
        // A scheduled refresh may bring back the same value: then force one.
        if (!matches(joined)) return { token: joined, refreshed: true };
      }
      // After an answer that was lost, WeChat may have issued a value we never
      // saw: a report that ours went stale starts the next attempt now. Once
      // per run of failures: then the backoff holds, or a flood of reports
      // against a WeChat answering garbage would make one call per report.
      const lost = this.failuresHeld?.last();
      if (lost instanceof UpstreamTransportError && mayHaveIssued(lost)) this.failures.skipBackoffOnce();
      const due = this.failuresHeld?.nextAttemptAt();
      if (due !== undefined && (await this.pauseUntil(due, until, round))) continue;
      this.failures.throwIfBackingOff(this.state.current(), this.state.latest());
      const checks = (this.staleChecksHeld ??= new StaleChecks(this.ctx.clock, () => this.log));
      const next = await checks.next(this.quota, held.value, held.fingerprint, this.issuer.check, opts.refused);
      if (next.step === "serve") {
        if (this.state.latest() === held && this.state.current()) return { token: held, refreshed: false };
        continue;
      }
      if (next.step === "wait") {
        if (await this.pauseUntil(this.ctx.clock.now() + next.ms, until, round)) continue;
        throw next.refusal;
      }
      if (this.state.latest() !== held) continue;
      beforeUpstream?.();
      this.log.info({ caller, stale: held.fingerprint, refusedByWeChat: next.reason === "stale" }, "passive refresh requested");
      const token = await this.refresh(next.reason);
      if (token.value === held.value) throw new SameTokenError(this.id);
      return { token, refreshed: true };
    }
  }

  /**
   * Waits on the clock until `at` (or an attempt starts, a value arrives, or
   * it stops) if that comes before the caller's deadline `until` (real
   * time); false, at once, when it does not. A few rounds at most.
   */
  private async pauseUntil(at: number, until: number, round: number): Promise<boolean> {
    const ms = at - this.ctx.clock.now();
    if (ms <= 0 || ms >= until - Date.now() || round >= 5 || this.stopped) return false;
    await this.pauseTill(at);
    return !this.stopped;
  }

  /** Waits on the clock until `at`, or until an attempt starts, a value from another replica arrives, or it stops. */
  private pauseTill(at: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = this.ctx.clock.setTimeout(resolve, at - this.ctx.clock.now());
      (this.attemptWaiters ??= []).push(() => {
        this.ctx.clock.clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Takes a value another replica obtained, if newer; reschedules around it. */
  adopt(stored: StoredCredential): CredentialRecord | undefined {
    if (this.stopped) return undefined;
    const record = this.state.adopt(stored);
    // A value another replica obtained answers callers waiting for the next attempt.
    if (record) this.wakeWaiters();
    if (record) {
      this.refreshedBy = stored.by;
      this.failuresHeld?.clear();
      this.revived();
      this.scheduleRefresh(record.refreshAt);
    }
    return record;
  }

  /**
   * A value WeChat issued outside a refresh (an Open Platform authorization
   * hands out the authorizer's token with its refresh token): held, stored,
   * served and refreshed like a fetched one. Returns it, or undefined once stopped.
   */
  offer(fetched: Fetched, requestedAt: number): CredentialRecord | undefined {
    if (this.stopped) return undefined;
    const { record } = this.state.accept(fetched.value, requestedAt, requestedAt + fetched.expiresIn * 1000);
    this.offered = true;
    this.refreshedBy = this.ctx.replicaId;
    this.save(record);
    this.failuresHeld?.clear();
    this.revived();
    this.wakeWaiters();
    if (this.started) this.scheduleRefresh(record.refreshAt);
    return record;
  }

  /** Single flight: joins the refresh in progress, or starts one. */
  refresh(reason: RefreshReason): Promise<CredentialRecord> {
    if (this.stopped) return Promise.reject(new StoppedError(this.id, this.stopReason));
    if (!this.inflight) {
      this.inflight = this.fetch(reason).finally(() => {
        this.inflight = undefined;
      });
      // Callers waiting for the next attempt join this one, whoever started it.
      this.wakeWaiters();
    }
    return this.inflight;
  }

  /**
   * Which replicas own it changed (one joined or died): the new owner plans
   * the refresh in its lane, a former owner steps back to watching.
   */
  ownersChanged(): void {
    if (!this.started || this.stopped || this.inflight) return;
    // Most keys keep their owner (rendezvous hashing moves only the leaving or joining replica's share).
    if (this.owned() === this.plannedAsOwner && isScheduled(this)) return;
    const held = this.state.latest();
    if (held) this.scheduleRefresh(held.refreshAt);
    else if (!this.onDemand) this.scheduleRefresh(this.ctx.clock.now(), "startup");
  }

  private wakeWaiters(): void {
    const waiters = this.attemptWaiters;
    this.attemptWaiters = undefined;
    if (waiters) for (const wake of waiters) wake();
  }

  /** On demand: a read keeps it refreshed; the first read after idling plans the next refresh. */
  private read(): void {
    const now = this.ctx.clock.now();
    const idle = now - this.lastReadAt > (this.lane.idleAfterMs ?? Infinity) || this.lastReadAt === 0;
    this.lastReadAt = now;
    const held = this.state.current();
    if (idle && held && this.started && !isScheduled(this)) this.scheduleRefresh(held.refreshAt);
  }

  /**
   * One refresh. With a coordinator (replicas sharing Redis) it runs under the
   * credential's cluster-wide lock, and first looks at what the other replicas
   * did: if one of them already refreshed, that value is taken and WeChat is
   * not called.
   */
  private async fetch(reason: RefreshReason): Promise<CredentialRecord> {
    const coordinator = this.ctx.coordinator;
    if (!coordinator) return this.fetchUpstream(reason);
    const stale = this.state.latest()?.value;
    try {
      return await coordinator.withLock(this.key, async (shared) => {
        if (shared.token) this.adopt(shared.token);
        if (shared.quota) this.quota.sync(shared.quota);
        const held = this.state.current();
        const stillNeeded = !held || (reason === "force" || reason === "stale" ? held.value === stale : this.ctx.clock.now() >= held.refreshAt);
        if (!stillNeeded) {
          // Another replica refreshed it (or this was a retry of a failed ForceRefresh
          // while the value is still good): back on the value's own schedule.
          this.failuresHeld?.clear();
          this.scheduleRefresh(held.refreshAt);
          return held;
        }
        return this.fetchUpstream(reason);
      });
    } catch (err) {
      if (err instanceof CoordinationError) return this.fail(err, reason);
      throw err;
    }
  }

  private async fetchUpstream(reason: RefreshReason): Promise<CredentialRecord> {
    const clock = this.ctx.clock;
    const requestedAt = clock.now();
    const force = reason === "force" || reason === "stale";
    try {
      this.budgets.check(force, reason !== "stale");
    } catch (err) {
      // A refused ForceRefresh leaves the current value and the schedule alone.
      if (force) throw err;
      return this.fail(err as QuotaGuardError, reason);
    }
    if (!this.lane.paced) this.log.debug({ reason }, "refreshing");
    const generation = this.generation;
    const abort = (this.abort = new AbortController());
    const parentId = this.issuer.parent;
    const ctx: FetchContext = {
      force,
      signal: abort.signal,
      timeoutFactor: 2 ** Math.min(this.lostAnswers, 6),
      extraCall: () => {
        this.budgets.check(false);
        this.budgets.count(false);
      },
      parent: parentId && this.ctx.parent(parentId),
    };
    let fetched;
    try {
      fetched = await this.issuer.fetch(ctx);
    } catch (err) {
      const error = isRefreshError(err) ? err : new UpstreamTransportError(this.issuer.endpoint, "BAD_BODY", (err as Error).message);
      const lost = isUpstreamError(error) && mayHaveIssued(error);
      if (this.stopped || lost) this.budgets.count(force);
      if (this.stopped) throw new StoppedError(this.id, this.stopReason);
      if (lost) this.answerLost(requestedAt);
      return this.fail(error, reason, generation !== this.generation);
    }
    this.abort = undefined;
    // A forced refresh that brought a value starts the minimum interval (a failed one does not).
    this.quota.succeeded(force);
    this.budgets.count(force);
    this.lostAnswers = 0;
    // Kept even when stopping: WeChat has issued it, and the one it replaced may die soon.
    let { record, same } = this.state.accept(fetched.value, requestedAt, requestedAt + fetched.expiresIn * 1000);
    // The same value again, still valid: ask again later (forceRefresh turns a forced one into SAME_TOKEN).
    if (same && this.state.isValid(record) && !force) record = this.state.replan(sameValueRetryAt(this.ctx.clock.now(), record.expiresAt, this.issuer.sameValueUntilExpiry))!;
    // Not when removed (an authorizer that de-authorized): its stored token was just dropped on purpose.
    if (!same) this.refreshedBy = this.ctx.replicaId;
    if (!(this.stopped && this.stopReason === "removed")) this.save(record);
    if (this.stopped) throw new StoppedError(this.id, this.stopReason);
    if (same && !this.state.isValid(record)) {
      // A value WeChat keeps until its expiry, answered again just past ours: its
      // successor comes a moment later. Callers wait in this refresh for it rather
      // than get an error; the value is not served past our expiry meanwhile.
      const askAt = this.issuer.sameValueUntilExpiry && !force ? successorAskAt(this.ctx.clock.now(), record.expiresAt) : undefined;
      if (askAt !== undefined) {
        const msg = "WeChat answered the value again just past its expiry: asking for its successor shortly";
        const fields = { version: record.version, token: record.fingerprint, askAt: new Date(askAt).toISOString() };
        if (this.lane.paced) this.log.debug(fields, msg);
        else this.log.info(fields, msg);
        await this.pauseTill(askAt);
        if (this.stopped) throw new StoppedError(this.id, this.stopReason);
        // Another replica's value (adopted meanwhile) answers it.
        return this.state.current() ?? this.fetchUpstream(reason);
      }
      // WeChat handed back the value that has just expired by our books: ask again shortly.
      const error = new UpstreamTransportError(this.issuer.endpoint, "BAD_BODY", `WeChat returned v${record.version} again, which expired at ${new Date(record.expiresAt).toISOString()}`);
      return this.fail(error, reason);
    }
    this.failuresHeld?.clear();
    this.revived();
    if (!(same && force)) this.scheduleRefresh(record.refreshAt);
    return record;
  }

  /**
   * WeChat may have answered a call whose answer we lost, with a new value:
   * then ours stops working supersedesAfterMs after that call. Believe it
   * lives no longer (the retry is planned inside that window) and wait longer
   * for the next answer.
   */
  private answerLost(requestedAt: number): void {
    this.lostAnswers++;
    const after = this.issuer.supersedesAfterMs;
    if (after === undefined) return;
    const shortened = this.state.shorten(requestedAt + after);
    if (shortened) this.save(shortened);
    if (shortened) this.log.warn({ expiresAt: new Date(shortened.expiresAt).toISOString() }, "an answer was lost: WeChat may have issued a new value, so the held one is assumed to end with the overlap");
  }

  private fail(error: RefreshError, reason: RefreshReason, staleCredentials = false): never {
    this.failed(error, reason, staleCredentials);
    if (this.state.current()) throw error;
    throw this.failures.noValid(error, this.state.latest());
  }

  private failed(error: RefreshError, reason: string, staleCredentials = false): void {
    // First: a value that no longer works does not hold the retry before its expiry.
    if (revokesValue(error)) this.revoke(error);
    const retryAt = this.failures.record(error, reason, this.state.current(), staleCredentials);
    this.scheduleRefresh(retryAt, "retry");
    this.state.updateHealth();
  }

  /**
   * WeChat said the held value no longer works (an authorizer's 61023): it
   * ends now, here and in the store (a restart does not serve it either), and
   * the credentials fetched with it (its tickets) go the same way. Callers get
   * the error until a value comes again (a new authorization, a refresh that works).
   */
  private revoke(error: RefreshError): void {
    const cut = this.state.withdraw();
    if (cut) this.save(cut);
    if (cut) this.log.warn({ version: cut.version, token: cut.fingerprint, err: error.message }, "WeChat's answer says the held value no longer works: not served any longer");
    if (this.revokedBy) return;
    this.revokedBy = error;
    this.ctx.revocation?.(this.key, error);
  }

  /** A value came after a revocation: the credentials fetched with it try again at once. */
  private revived(): void {
    if (!this.revokedBy) return;
    this.revokedBy = undefined;
    this.ctx.revocation?.(this.key, undefined);
  }

  /** The token this is fetched with was revoked (see revoke): this value goes too, with the same error. */
  parentRevoked(error: RefreshError): void {
    if (this.started && !this.stopped) this.failed(error, "parent revoked");
  }

  /** The token this is fetched with came back: if it failed for the revocation, it tries again now. */
  parentRevived(): void {
    if (revokesValue(this.failuresHeld?.last())) this.retryNow("the token it is fetched with is back");
  }

  /**
   * Plans the next background refresh at `at`. In a paced lane the plan
   * takes a slot under the lane's ceiling: a planned refresh as late as its
   * margin allows (earlier when those seconds are full, never before a tenth
   * of the value's life), a first fetch or a retry as soon as the ceiling
   * allows. A replica that does not own the credential only looks, later,
   * whether its owner refreshed it.
   */
  private scheduleRefresh(at: number, reason: RefreshReason = "scheduled"): void {
    if (this.stopped) return;
    if (this.slot !== undefined) this.lane.release(this.slot);
    this.slot = undefined;
    this.dueReason = reason;
    const now = this.ctx.clock.now();
    const held = this.state.current();
    let when = Math.max(at, now);
    this.plannedAsOwner = this.owned();
    if (!this.plannedAsOwner) {
      // The owner plans in its own lane, no later than the plan; this replica
      // looks halfway from the plan to expiry, by when a value it adopted
      // would have replaced this one (or the owner is dead, and the live set
      // will say so within a lease).
      if (held) when = Math.max(when, when + Math.floor((held.expiresAt - when) / 2));
      else when = now + this.ctx.ownerGraceMs;
    } else if (this.lane.paced) {
      const life = held ? held.expiresAt - held.obtainedAt : 0;
      this.slot = when =
        reason === "scheduled" && held && held.expiresAt > when
          ? this.lane.planned(when, Math.max(now, held.obtainedAt + Math.floor(life * EARLIEST_SHARE)), held.expiresAt - 1000)
          : this.lane.soonest(when);
    }
    this.ctx.scheduler.schedule(this, when);
  }

  /**
   * Whether this replica plans its refreshes. On demand, the replica its
   * callers read through does (reads are counted where they happen; the
   * cluster's lock keeps it one upstream call); eager, its owner.
   */
  private owned(): boolean {
    return this.onDemand || this.ctx.owners.owns(this.key);
  }

  private unschedule(): void {
    this.ctx.scheduler.cancel(this);
    if (this.slot !== undefined) this.lane.release(this.slot);
    this.slot = undefined;
  }

  /** The planned time came (the scheduler's call). */
  fire(): void {
    this.slot = undefined;
    if (this.stopped) return;
    const now = this.ctx.clock.now();
    if (!this.owned()) {
      // Its owner has not refreshed it (no value adopted): look again soon; a
      // dead owner's share comes here when the replicas' lease says so.
      this.ctx.scheduler.schedule(this, now + this.ctx.ownerGraceMs);
      return;
    }
    const idleAfter = this.lane.idleAfterMs;
    if (idleAfter !== undefined && now - this.lastReadAt > idleAfter) {
      // On demand and not read lately: left to expire; the next read fetches.
      return;
    }
    const reason = this.dueReason;
    // A refresh already in flight (a caller's, a retry's) is joined; if it
    // ended without a plan (it found the value still good and had planned
    // the refresh this very call consumed), the plan is made again. When the
    // value it ended with has expired meanwhile (a value WeChat keeps until
    // its expiry, whose plan is that very moment), the refresh it planned is
    // made now: nothing else would ever plan one.
    const joined = this.inflight !== undefined;
    const run = () => this.refresh(reason);
    (this.lane.paced ? this.lane.run(run) : run())
      .catch(() => undefined)
      .then(() => {
        if (!joined || isScheduled(this) || this.stopped) return;
        this.scheduleRefresh(this.state.current()?.refreshAt ?? this.ctx.clock.now(), reason);
      });
  }
}

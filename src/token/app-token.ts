/**
 * One app's token: the state, its single-flight refresher and its schedule.
 *
 * Data flows one way: upstream -> this refresher -> state -> (store, listeners).
 * However many callers ask at once, at most one upstream call per app is in
 * flight. While a refresh is in flight or failing, the current token is served
 * as long as it is valid; an expired token is never served.
 */
import type { Clock, TimerHandle } from "../clock.js";
import type { Logger } from "../log.js";
import type { StoredToken, TokenStore } from "../store/store.js";
import { isUpstreamError, UpstreamTransportError } from "../upstream/errors.js";
import type { AppCredentials, TokenUpstream } from "../upstream/types.js";
import { CoordinationError, type Coordinator } from "./coordinator.js";
import { NoValidTokenError, SameTokenError, StoppedError, type RefreshError } from "./errors.js";
import { AppQuota, QuotaGuardError, type QuotaPolicy } from "./quota-guard.js";
import { capBeforeExpiry, planRefresh, retryDelay, type Random, type RefreshPolicy, type RetryPolicy } from "./schedule.js";
import { describeToken, makeRecord, toStored, type TokenRecord } from "./token.js";

/**
 * Whether a failed call may still have cost WeChat quota: an answer that was
 * lost (a timeout) or mangled (a bad body, an absurd token) may have been a
 * token WeChat issued and counted. A refused connection, an HTTP error from
 * a proxy, or an errcode answer issued nothing: counting those would let an
 * outage of a few hours use up our own daily budget and keep the app down
 * after WeChat has recovered.
 */
function mayHaveIssuedToken(error: RefreshError): boolean {
  return error instanceof UpstreamTransportError && error.code !== "CONNECT" && error.code !== "HTTP_STATUS";
}

export type RefreshReason = "startup" | "scheduled" | "retry" | "no-token" | "force";

export interface AppTokenOptions {
  app: AppCredentials;
  upstream: TokenUpstream;
  clock: Clock;
  refresh: RefreshPolicy;
  retry: RetryPolicy;
  quota: QuotaPolicy;
  store: TokenStore;
  log: Logger;
  random?: Random;
  /** What the store had at start (a token, maybe expired, and its version). */
  stored?: StoredToken;
  /** Replicas sharing a store: a cluster-wide refresh lock and the shared token. */
  coordinator?: Coordinator;
}

export type TokenListener = (token: TokenRecord) => void;
export type HealthListener = (healthy: boolean) => void;

export interface ForceRefreshResult {
  token: TokenRecord;
  /** True when this call caused or joined an upstream refresh. */
  refreshed: boolean;
}

interface Failure {
  error: RefreshError;
  attempts: number;
  retryAt: number;
}

export class AppToken {
  readonly appId: string;
  private token: TokenRecord | undefined;
  /** Highest version ever held (a stored, expired token still counts). */
  private version: number;
  private inflight: Promise<TokenRecord> | undefined;
  private failure: Failure | undefined;
  private timer: TimerHandle | undefined;
  private expiryTimer: TimerHandle | undefined;
  private stopped = false;
  private started = false;
  private lastHealthy = false;
  private readonly tokenListeners = new Set<TokenListener>();
  private readonly healthListeners = new Set<HealthListener>();
  private readonly random: Random;
  private readonly log: Logger;
  readonly quota: AppQuota;
  /** Bumped by updateCredentials: a failure with older credentials says nothing about the new ones. */
  private generation = 0;
  /** Aborts a fetch still running when stop()'s grace is over. */
  private readonly abort = new AbortController();
  private stopReason: "shutdown" | "removed" = "shutdown";

  constructor(private opts: AppTokenOptions) {
    this.appId = opts.app.appId;
    this.random = opts.random ?? Math.random;
    this.log = opts.log.child({ appId: this.appId });
    this.version = opts.stored?.version ?? 0;
    this.quota = new AppQuota(this.appId, opts.quota, opts.clock, opts.store.quota(this.appId));
    const s = opts.stored;
    if (s && s.expiresAt > opts.clock.now()) this.token = this.successor(undefined, s, s.obtainedAt);
  }

  /** Serves the stored token if still valid (no upstream call), else fetches one. */
  start(): void {
    if (this.started) return;
    this.started = true;
    if (this.token) {
      this.log.info(describeToken(this.token), "serving stored token");
      this.scheduleRefresh(this.token.refreshAt);
      this.watchExpiry();
      this.updateHealth();
    } else {
      this.refresh("startup").catch(() => undefined);
    }
  }

  /**
   * Uses new credentials (a config reload) from the next upstream call on.
   * Returns false when nothing changed. After a credential or IP error the
   * next attempt is made at once: the change may be the fix.
   */
  updateCredentials(app: AppCredentials, refresh: RefreshPolicy): boolean {
    const old = this.opts.app;
    if (old.secret.reveal() === app.secret.reveal() && old.endpoint === app.endpoint) return false;
    this.opts = { ...this.opts, app, refresh };
    this.generation++;
    this.log.info({ endpoint: app.endpoint }, "credentials updated");
    const kind = this.failure?.error.kind;
    if (this.started && !this.stopped && (kind === "permanent" || kind === "admin")) {
      this.failure = undefined;
      this.scheduleRefresh(this.opts.clock.now(), "retry");
    }
    return true;
  }

  /**
   * No more refreshes or timers. A fetch already running may still finish (see
   * settle): WeChat may have issued a token, and it must be kept.
   */
  stop(reason: "shutdown" | "removed" = "shutdown"): void {
    this.stopped = true;
    this.stopReason = reason;
    if (this.timer) this.opts.clock.clearTimeout(this.timer);
    if (this.expiryTimer) this.opts.clock.clearTimeout(this.expiryTimer);
    this.timer = this.expiryTimer = undefined;
  }

  /**
   * After stop(): waits up to ms for a fetch in flight, so that a token WeChat
   * has just issued reaches the store (the one it replaced dies in 5 minutes);
   * then aborts it.
   */
  async settle(ms: number): Promise<void> {
    const inflight = this.inflight;
    if (!inflight) return;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
    await Promise.race([inflight.then(() => undefined, () => undefined), timeout]);
    clearTimeout(timer);
    if (this.inflight) this.abort.abort(new StoppedError(this.appId));
  }

  /** Whether a token may still be served (not expired). */
  isValid(token: TokenRecord): boolean {
    return token.expiresAt > this.opts.clock.now();
  }

  /** The current token if it is still valid. */
  current(): TokenRecord | undefined {
    const t = this.token;
    return t && this.isValid(t) ? t : undefined;
  }

  /** The newest token held, valid or not (metrics, and a reload that removes the app). */
  latest(): TokenRecord | undefined {
    return this.token;
  }

  /** Highest version this server has held for the app (0 if none). */
  highestVersion(): number {
    return this.version;
  }

  healthy(): boolean {
    return this.current() !== undefined;
  }

  /** The last upstream failure, if the last attempt failed. */
  lastError(): RefreshError | undefined {
    return this.failure?.error;
  }

  /** The current valid token; waits for a refresh only when there is none. */
  async get(): Promise<TokenRecord> {
    const valid = this.current();
    if (valid) return valid;
    if (this.inflight) return this.inflight;
    this.throwIfBackingOff();
    return this.refresh("no-token");
  }

  /**
   * Passive refresh as compare-and-refresh: refreshes only if `stale` is still
   * the current token; every concurrent caller with that token shares one
   * upstream call.
   */
  async forceRefresh(stale: string, caller = "anonymous", beforeUpstream?: () => void): Promise<ForceRefreshResult> {
    const held = this.token;
    if (!held || held.accessToken !== stale) {
      // Someone already replaced it (or it was never ours): no upstream call.
      return { token: await this.get(), refreshed: false };
    }
    // An expired token needs an ordinary refresh, not a forced one (no force budget spent).
    if (!this.current()) return { token: await this.get(), refreshed: true };
    if (this.inflight) {
      const joined = await this.inflight;
      // A scheduled stable_token refresh may bring back the same token: then force one.
      if (joined.accessToken !== stale) return { token: joined, refreshed: true };
    }
    this.throwIfBackingOff();
    beforeUpstream?.();
    this.log.info({ caller, stale: held.fingerprint }, "passive refresh requested");
    const token = await this.refresh("force");
    if (token.accessToken === stale) throw new SameTokenError(this.appId);
    return { token, refreshed: true };
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

  /** Single flight: joins the refresh in progress, or starts one. */
  refresh(reason: RefreshReason): Promise<TokenRecord> {
    if (this.stopped) return Promise.reject(new StoppedError(this.appId, this.stopReason));
    if (!this.inflight) {
      this.inflight = this.fetch(reason).finally(() => {
        this.inflight = undefined;
      });
    }
    return this.inflight;
  }

  private throwIfBackingOff(): void {
    const f = this.failure;
    if (f && f.retryAt > this.opts.clock.now()) {
      // With a valid token the failure is only about refreshing it.
      if (this.current()) throw f.error;
      throw new NoValidTokenError(this.appId, f.error, f.retryAt, this.whyNoToken() + `; next attempt at ${new Date(f.retryAt).toISOString()}`);
    }
  }

  private whyNoToken(): string {
    const t = this.token;
    return t ? `token v${t.version} expired at ${new Date(t.expiresAt).toISOString()}` : "no token obtained yet";
  }

  /**
   * One refresh. With a coordinator (replicas sharing Redis) it runs under
   * the app's cluster-wide lock, and first looks at what the other replicas
   * did: if one of them already refreshed, that token is taken and WeChat is
   * not called.
   */
  private async fetch(reason: RefreshReason): Promise<TokenRecord> {
    const coordinator = this.opts.coordinator;
    if (!coordinator) return this.fetchUpstream(reason);
    const stale = this.token?.accessToken;
    try {
      return await coordinator.withLock(this.appId, async (shared) => {
        if (shared.token) this.adopt(shared.token);
        if (shared.quota) this.quota.sync(shared.quota);
        const held = this.current();
        const stillNeeded = !held || (reason === "force" ? held.accessToken === stale : this.opts.clock.now() >= held.refreshAt);
        if (!stillNeeded) return held;
        return this.fetchUpstream(reason);
      });
    } catch (err) {
      if (err instanceof CoordinationError) return this.fail(err, reason);
      throw err;
    }
  }

  private async fetchUpstream(reason: RefreshReason): Promise<TokenRecord> {
    const clock = this.opts.clock;
    const requestedAt = clock.now();
    // stable_token only issues a new token when asked to force it.
    const forceRefresh = reason === "force";
    try {
      this.quota.check(forceRefresh);
    } catch (err) {
      // A refused ForceRefresh leaves the current token and the schedule alone.
      if (forceRefresh) throw err;
      return this.fail(err as QuotaGuardError, reason);
    }
    this.quota.attempt(forceRefresh);
    this.log.debug({ reason }, "refreshing token");
    const generation = this.generation;
    let fetched;
    try {
      fetched = await this.opts.upstream.fetchToken(this.opts.app, { forceRefresh, signal: this.abort.signal });
    } catch (err) {
      const error = isUpstreamError(err) ? err : new UpstreamTransportError("token", "BAD_BODY", (err as Error).message);
      if (this.stopped || mayHaveIssuedToken(error)) this.countCall(forceRefresh);
      if (this.stopped) throw new StoppedError(this.appId, this.stopReason);
      return this.fail(error, reason, generation !== this.generation);
    }
    this.countCall(forceRefresh);
    // Kept even when stopping: WeChat has issued it, and the one it replaced dies in 5 minutes.
    const token = this.accept(fetched.accessToken, requestedAt, requestedAt + fetched.expiresIn * 1000, reason);
    // ...but not handed to callers of an app that is gone.
    if (this.stopped) throw new StoppedError(this.appId, this.stopReason);
    return token;
  }

  /** Counts a call against the daily budget, and persists the count (a crash loop must not reset it). */
  private countCall(forced: boolean): void {
    this.opts.store.saveQuota(this.appId, this.quota.record(forced));
  }

  private fail(error: RefreshError, reason: RefreshReason, staleCredentials = false): never {
    this.recordFailure(error, reason, staleCredentials);
    if (this.current()) throw error;
    throw new NoValidTokenError(this.appId, error, this.failure?.retryAt, this.whyNoToken());
  }

  private accept(accessToken: string, obtainedAt: number, expiresAt: number, reason: RefreshReason): TokenRecord {
    const previous = this.token;
    if (previous?.accessToken !== accessToken) this.version += 1;
    const token = this.successor(previous, { appId: this.appId, accessToken, version: this.version, obtainedAt, expiresAt }, obtainedAt);
    this.opts.store.save(toStored(token));
    return this.install(token, previous, reason);
  }

  /**
   * The record for a token that arrives (fetched, stored or shared). When it
   * is the token already held (stable_token answers the same token while it
   * is valid), it keeps that token's version and obtained time, with the new
   * expiry. Its refresh is planned from `planFrom`.
   */
  private successor(previous: TokenRecord | undefined, incoming: StoredToken, planFrom: number): TokenRecord {
    const same = previous?.accessToken === incoming.accessToken;
    return makeRecord({
      appId: this.appId,
      accessToken: incoming.accessToken,
      version: same ? previous.version : incoming.version,
      obtainedAt: same ? previous.obtainedAt : incoming.obtainedAt,
      expiresAt: incoming.expiresAt,
      refreshAt: planRefresh(planFrom, incoming.expiresAt, this.opts.refresh, this.random),
    });
  }

  /**
   * Takes a token another replica obtained (from the shared store, or pushed
   * by it), if it is newer than ours: a higher version, or our token with a
   * later expiry. Returns it, or undefined when it changed nothing.
   */
  adopt(stored: StoredToken): TokenRecord | undefined {
    const held = this.token;
    if (this.stopped || stored.appId !== this.appId || stored.expiresAt <= this.opts.clock.now()) return undefined;
    const same = held?.accessToken === stored.accessToken;
    if (same ? stored.expiresAt <= held.expiresAt : stored.version <= (held?.version ?? 0)) return undefined;
    this.version = Math.max(this.version, stored.version);
    return this.install(this.successor(held, stored, stored.obtainedAt), held, "shared");
  }

  private install(token: TokenRecord, previous: TokenRecord | undefined, reason: RefreshReason | "shared"): TokenRecord {
    const same = previous?.accessToken === token.accessToken;
    this.token = token;
    this.failure = undefined;
    this.log.info({ ...describeToken(token), reason, previous: previous?.fingerprint }, same ? "token unchanged, expiry updated" : "new token");
    this.scheduleRefresh(token.refreshAt);
    this.watchExpiry();
    if (!same) for (const listener of [...this.tokenListeners]) listener(token);
    this.updateHealth();
    return token;
  }

  private recordFailure(error: RefreshError, reason: RefreshReason, staleCredentials: boolean): void {
    const now = this.opts.clock.now();
    const attempts = (this.failure?.attempts ?? 0) + 1;
    const errcode = "errcode" in error ? error.errcode : undefined;
    let delay =
      error instanceof QuotaGuardError ? error.retryAfterMs : retryDelay(error.kind, attempts, now, this.opts.retry, this.random, errcode);
    delay = capBeforeExpiry(delay, now, this.current()?.expiresAt, this.opts.retry.baseMs / 2);
    // The credentials changed while this call was out: try the new ones now.
    if (staleCredentials) delay = 0;
    this.failure = { error, attempts, retryAt: now + delay };
    this.log.warn(
      { reason, kind: error.kind, errcode, rid: "rid" in error ? error.rid : undefined, attempts, retryInMs: delay, err: error.message },
      "token refresh failed",
    );
    this.scheduleRefresh(now + delay, "retry");
    this.updateHealth();
  }

  private scheduleRefresh(at: number, reason: RefreshReason = "scheduled"): void {
    if (this.stopped) return;
    const clock = this.opts.clock;
    if (this.timer) clock.clearTimeout(this.timer);
    this.timer = clock.setTimeout(() => {
      this.timer = undefined;
      this.refresh(reason).catch(() => undefined);
    }, at - clock.now());
  }

  /** Health must turn NOT_SERVING the moment a token expires, not at the next call. */
  private watchExpiry(): void {
    const clock = this.opts.clock;
    if (this.expiryTimer) clock.clearTimeout(this.expiryTimer);
    const t = this.token;
    if (!t || this.stopped) return;
    this.expiryTimer = clock.setTimeout(() => {
      this.expiryTimer = undefined;
      if (this.token === t) {
        this.log.error(describeToken(t), "token expired with no replacement");
        this.updateHealth();
      }
    }, t.expiresAt - clock.now());
  }

  private updateHealth(): void {
    const healthy = this.healthy();
    if (healthy === this.lastHealthy) return;
    this.lastHealthy = healthy;
    for (const listener of [...this.healthListeners]) listener(healthy);
  }
}

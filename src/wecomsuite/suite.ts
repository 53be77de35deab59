/**
 * One WeCom suite (企业微信第三方应用, or a 代开发 app template): the chain from
 * the pushed suite_ticket to the suite_access_token to every installed corp's
 * token and JS-SDK tickets, keyed by (suite, corp).
 *
 * What must not be lost is kept in the platform store, as the Open Platform
 * keeps its own: the newest suite_ticket (valid only 30 minutes, and no API
 * can ask WeCom for another) and each corp's permanent code (it never
 * expires and cannot be had again: a corp whose code is lost must reinstall).
 * An authorization code WeCom pushes (create_auth, reset_permanent_code) is
 * stored before the push is answered `success` (WeCom wants that answer
 * within 1000 ms), then exchanged by one replica, retried on transient
 * failures while the code lives (10 minutes), and dropped once its permanent
 * code is stored. Each corp's credentials join and leave the engine one corp
 * at a time, in the suite's own lane.
 */
import { createHash } from "node:crypto";
import type { Clock, TimerHandle } from "../clock.js";
import type { Credential } from "../core/credential.js";
import { APP_ID_PATTERN, credentialKey, type CredentialId } from "../core/credential-id.js";
import type { CredentialEngine, Seed } from "../core/engine.js";
import type { FetchContext } from "../core/issuer.js";
import type { Issuer } from "../core/issuer.js";
import type { HourlyLimit } from "../core/quota-guard.js";
import { fingerprint } from "../fingerprint.js";
import { ticketKind } from "../issuers/types.js";
import type { Logger } from "../log.js";
import { TenantBook, type TenantWords } from "../platform/tenant-book.js";
import { TicketHolder, type NoTicket } from "../platform/ticket-holder.js";
import { OwnClaims } from "../platform/own-claims.js";
import { RedirectCodes } from "../platform/redirect-codes.js";
import { pushCreatedAt, StoredTimesRepair } from "../platform/push-times.js";
import type { AuthorizerPage } from "../platform/tenant-index.js";
import type { AuthorizerStatus, PendingCode, PlatformChange, PlatformStore, StoredAuthorizer, StoredTicket } from "../platform/store.js";
import { platformGroup, platformTokenGroup, type Authorized, type PushedPlatform } from "../platform/pushed-platform.js";
import type { PushOutcome } from "../platform/receiver.js";
import { MissingInputError, WeChatError } from "../upstream/errors.js";
import type { WeChatClient } from "../upstream/wechat-client.js";
import { corpTicketIssuer, corpTokenIssuers, SUITE_TOKEN_PATH, suiteTokenIssuer, withSuiteToken, type PermanentCodeSource, type SuiteTicketSource } from "./issuers.js";
import { getAuthInfo, getPermanentCode, type Installed } from "./suite-calls.js";
import type { SuiteEntry } from "../config/platforms.js";
import { WECOM_SUITE } from "./types.js";

/** What the suite needs of the server around it. */
export interface SuiteHost {
  engine: Pick<CredentialEngine, "add" | "remove" | "byKey" | "parent" | "lane">;
  /** Wraps an issuer so that its upstream calls are counted (metrics, under `group`), or hands it back. */
  meter(issuer: Issuer, group?: string): Issuer;
  /** The hourly ticket limits of a corp's app (per app, and per corp shared with the corp's self-built apps). */
  ticketLimits(corpId: string, appKey: string): readonly HourlyLimit[];
}

export interface SuiteDeps {
  /** The WeCom upstream (qyapi.weixin.qq.com). */
  client: WeChatClient;
  store: PlatformStore;
  clock: Clock;
  log: Logger;
  host: SuiteHost;
}

/** WeCom: an authorization code is good for 10 minutes. */
const AUTH_CODE_LIFE_MS = 10 * 60_000;
/** Waits between exchange attempts of a kept code (then the last one, until the code's life ends). */
const EXCHANGE_RETRY_MS = [2_000, 5_000, 15_000, 30_000, 60_000];
/** How often stored codes are looked at (one a crashed replica kept). */
const PENDING_SWEEP_MS = 60_000;
/** How the tenant book names a suite's tenants and their secret in its log lines. */
const CORP_WORDS: TenantWords = {
  tenant: "corp",
  secret: "permanent code",
  secretField: "permanentCode",
  upstream: "WeCom",
  unwrittenHint: "no API gives a permanent code again: these corps must install the app again if WeCom does not resend their push",
  lostHint: "writing their permanent codes back",
};

/** Why no suite_ticket can be used, for NO_SUITE_TICKET's message. */
const NO_TICKET: Record<NoTicket, string> = {
  none: "no suite_ticket is held",
  refused: "WeCom refused the suite_ticket held (40085)",
  expired: "the suite_ticket held expired (they live 30 minutes)",
};

/** How long a replica's claim on exchanging a code lasts. */
const CLAIM_MS = 60_000;
/** Longest AuthCode accepted from a push (WeCom's are well under). */
const MAX_CODE_LENGTH = 512;

export class SuitePlatform implements PushedPlatform, SuiteTicketSource, PermanentCodeSource {
  readonly facts = WECOM_SUITE;
  readonly id: string;
  readonly group: string;
  readonly progress = undefined;
  private readonly log: Logger;
  private readonly corps: TenantBook;
  private readonly corpIssuer: (corpId: string) => Issuer;
  /** The newest suite_ticket (30 minutes). */
  private readonly tickets: TicketHolder;
  /** AuthorizeByCode's codes: a retried call gets the corp the first one installed. */
  private readonly redirectCodes: RedirectCodes;
  /** Codes being exchanged by this replica, and their retry timers. */
  private readonly exchanging = new Set<string>();
  /** Codes this replica claimed (one replica exchanges a code): its own retries need no new claim. */
  private readonly codeClaims: OwnClaims;
  private readonly retryTimers = new Map<string, TimerHandle>();
  /** Exchanges under way (pushed and redirect codes): a shutdown waits for them, since WeCom hands a permanent code out once. */
  private readonly exchangesInFlight = new Set<Promise<unknown>>();
  private sweepTimer: TimerHandle | undefined;
  /** The write-back of corps the store lost, while it runs; and whether more were noticed meanwhile. */
  private restoring: Promise<void> | undefined;
  private restoreAgain = false;
  /** Other waits (a re-read of auth info tried again, a second look after a ticket): cleared at stop(). */
  private readonly timers = new Set<TimerHandle>();
  private unsubscribe: (() => void) | undefined;
  private stopped = false;
  /** Stored push times from the future (a forged or mis-clocked push, a redirect install on a replica whose clock ran ahead), brought back to now at load. */
  private readonly times: StoredTimesRepair;

  constructor(
    readonly entry: SuiteEntry,
    private readonly deps: SuiteDeps,
  ) {
    this.id = entry.suiteId;
    this.group = platformGroup(entry.suiteId);
    this.log = deps.log.child({ suite: entry.suiteId });
    this.tickets = new TicketHolder(entry.suiteId, WECOM_SUITE, deps.store, deps.clock, this.log);
    this.codeClaims = new OwnClaims(deps.store, entry.suiteId, deps.clock, CLAIM_MS);
    this.redirectCodes = new RedirectCodes({
      platform: entry.suiteId,
      store: deps.store,
      clock: deps.clock,
      log: this.log,
      load: (corpId) => this.corps.reloadOne(corpId),
      stopped: () => this.stopped,
    });
    this.times = new StoredTimesRepair(entry.suiteId, entry.maxClockSkewMs, deps.store, deps.clock, this.log, (r) => ({
      ticket: r.ticket,
      corps: r.authorized.slice(0, 20),
      deauthorized: r.deauthorized.slice(0, 20),
    }));
    this.corps = new TenantBook(entry.suiteId, deps.store, deps.clock, this.log, {
      joined: (corpId) => this.serve(corpId),
      left: (corpId) => this.unserve(corpId),
      lost: () => this.restoreLost(),
      refreshTokenReplaced: (corpId) => this.credential(this.tenantKey(corpId))?.retryNow("a new permanent code was stored"),
    }, CORP_WORDS);
    this.corpIssuer = corpTokenIssuers(entry, this, deps.client);
    deps.host.engine.lane(this.group, {
      maxCallsPerSecond: entry.maxCallsPerSecond,
      maxConcurrent: entry.maxConcurrentCalls,
      idleAfterMs: entry.onDemand ? entry.idleAfterMs : undefined,
    });
  }

  get push(): SuiteEntry {
    return this.entry;
  }

  /** WeCom checks the 指令回调URL with an echostr encrypted for the suite id, or (seen in SDK reports) the provider's corpid. */
  get urlCheckIds(): readonly string[] {
    return this.entry.providerCorpId === undefined ? [this.id] : [this.id, this.entry.providerCorpId];
  }

  get tokenKey(): string {
    return this.entry.suiteId;
  }

  tenantKey(corpId: string): string {
    return credentialKey(this.corpId(corpId, "access_token"));
  }

  private corpId(corpId: string, kind: CredentialId["kind"]): CredentialId {
    return { appId: corpId, platform: this.id, kind };
  }

  /** The engine keys of a corp's credentials. */
  private keysOf(corpId: string): string[] {
    return [this.tenantKey(corpId), ...this.entry.corpTickets.map((t) => credentialKey(this.corpId(corpId, ticketKind(t))))];
  }

  // Membership

  serveAll(): void {
    const { engine, meter } = this.deps.host;
    engine.add(meter(suiteTokenIssuer(this.entry, this, this.deps.client)), platformTokenGroup(this.id));
    for (const corpId of this.corps.appIds()) this.serve(corpId);
  }

  private serve(corpId: string, seed?: Seed): void {
    const { engine, meter, ticketLimits } = this.deps.host;
    engine.add(meter(this.corpIssuer(corpId), this.group), this.group, seed);
    if (this.entry.corpTickets.length === 0) return;
    const limits = ticketLimits(corpId, this.tenantKey(corpId));
    for (const t of this.entry.corpTickets) engine.add(meter(corpTicketIssuer(this.entry, corpId, t, this.deps.client, limits), this.group), this.group);
  }

  private unserve(corpId: string): void {
    for (const key of this.keysOf(corpId)) this.deps.host.engine.remove(key);
  }

  private credential(key: string): Credential | undefined {
    return this.deps.host.engine.byKey(key);
  }

  // Life

  async load(): Promise<void> {
    // Before following changes: the repair's own change is no news to this replica.
    await this.times.run();
    this.unsubscribe = this.deps.store.onPlatformChange((change) => {
      if (change.component === this.id) this.changed(change).catch((err: Error) => this.log.warn({ err: err.message }, "could not reload a suite change"));
    });
    try {
      const ticket = await this.tickets.load();
      this.corps.loaded(await this.deps.store.authorizers(this.id));
      this.log.info({ corps: this.corps.size, ticketExpiresAt: ticket && new Date(ticket.expiresAt).toISOString() }, "WeCom suite loaded");
    } catch (err) {
      // The shared store is down: its reconnect replays every change ("all").
      this.log.warn({ err: (err as Error).message }, "WeCom suite store unreadable at start; waiting for it");
    }
  }

  start(): void {
    const suite = this.credential(this.tokenKey);
    suite?.onToken(() => this.suiteTokenArrived());
    if (!this.tickets.valid()) {
      this.log.warn(
        { path: this.entry.path },
        "no valid suite_ticket held: WeCom pushes one every 10 minutes to the app's 指令回调URL (the 刷新ticket button in the provider console sends one now); the suite token and new installs wait for it",
      );
    }
    this.sweepPending();
  }

  stop(): void {
    this.stopped = true;
    this.unsubscribe?.();
    this.corps.stop();
    for (const t of this.retryTimers.values()) this.deps.clock.clearTimeout(t);
    this.retryTimers.clear();
    for (const t of this.timers) this.deps.clock.clearTimeout(t);
    this.timers.clear();
    if (this.sweepTimer) this.deps.clock.clearTimeout(this.sweepTimer);
  }

  /**
   * At shutdown (after stop()): an exchange still in flight may bring a
   * permanent code WeCom will not hand out again (its code then answers
   * 40078), so it lands in the store before the store closes; then the
   * writes the store refused are tried once more.
   */
  async flushWrites(): Promise<void> {
    while (this.exchangesInFlight.size > 0) await Promise.allSettled([...this.exchangesInFlight]);
    return this.corps.flushWrites();
  }

  private inFlight<T>(work: Promise<T>): Promise<T> {
    this.exchangesInFlight.add(work);
    const done = () => this.exchangesInFlight.delete(work);
    work.then(done, done);
    return work;
  }

  // Listing

  holds(corpId: string): boolean {
    return this.corps.has(corpId);
  }

  authorizerPage(after: string | undefined, limit: number, status?: AuthorizerStatus): AuthorizerPage {
    return this.corps.page(after, limit, status);
  }

  authorizerCount(status?: AuthorizerStatus): number {
    return this.corps.count(status);
  }

  heldTicket(): StoredTicket | undefined {
    return this.tickets.held();
  }

  /** The agentid of the suite's app in the corp, from its auth info (wx.agentConfig). */
  agentOf(corpId: string): string | undefined {
    return this.corps.get(corpId)?.agents?.[0];
  }

  // SuiteTicketSource

  async usableTicket(): Promise<string> {
    const t = await this.tickets.usable();
    if ("value" in t) return t.value;
    throw new MissingInputError(
      SUITE_TOKEN_PATH,
      "NO_SUITE_TICKET",
      `${NO_TICKET[t.missing]} for suite ${this.id}: WeCom pushes one every 10 minutes to the app's 指令回调URL (${this.entry.path}); no API can ask for one, but the 刷新ticket button in the provider console sends one now`,
    );
  }

  ticketRefused(ticket: string): void {
    this.tickets.refused(ticket);
  }

  // PermanentCodeSource

  permanentCodeOf(corpId: string): Promise<string | undefined> {
    return this.corps.refreshTokenOf(corpId);
  }

  permanentCodeWorked(corpId: string, code: string): void {
    if (this.corps.get(corpId)?.status === "needs_reauthorization") this.corps.setStatus(corpId, code, "active");
  }

  permanentCodeRefused(corpId: string, code: string): void {
    // Never dropped here: a permanent code cannot be had again, and only cancel_auth says the corp left.
    this.log.error({ corp: corpId, permanentCode: fingerprint(code) }, "WeCom refused the corp's permanent code: the corp must install the app again (kept until cancel_auth)");
    this.corps.setStatus(corpId, code, "needs_reauthorization");
  }

  // Pushes

  async handlePush(fields: Record<string, string>): Promise<PushOutcome> {
    const inner = fields["SuiteId"];
    if (inner !== undefined && inner !== this.id) {
      this.log.warn({ suiteId: inner }, "push names another suite id; ignored");
      return "ignored";
    }
    switch (fields["InfoType"]) {
      case "suite_ticket":
        return this.ticketPushed(fields);
      case "create_auth":
      case "reset_permanent_code":
        return this.keepCode(fields);
      case "change_auth":
        return this.authChanged(fields);
      case "cancel_auth":
        return this.cancelled(fields);
      default:
        this.log.info({ infoType: fields["InfoType"] }, "push of a type wxtoken does not handle; answered success");
        return "ignored";
    }
  }

  private async ticketPushed(fields: Record<string, string>): Promise<PushOutcome> {
    const outcome = await this.tickets.pushed(fields["SuiteTicket"], pushCreatedAt(fields, this.deps.clock.now()));
    if (outcome === "stored") this.ticketArrived();
    return outcome;
  }

  /** create_auth / reset_permanent_code: the code is stored before `success`, exchanged after. */
  private async keepCode(fields: Record<string, string>): Promise<PushOutcome> {
    const code = fields["AuthCode"] ?? "";
    const infoType = fields["InfoType"]!;
    if (code === "" || code.length > MAX_CODE_LENGTH) {
      this.log.warn({ infoType }, "push without a valid AuthCode; ignored");
      return "ignored";
    }
    const corp = fields["AuthCorpId"];
    const pending: PendingCode = {
      code,
      infoType,
      receivedAt: this.deps.clock.now(),
      createdAt: pushCreatedAt(fields, this.deps.clock.now()),
      ...(corp !== undefined && APP_ID_PATTERN.test(corp) ? { tenantId: corp } : {}),
    };
    // Rejects when the store cannot take it: WeCom then pushes again.
    const fresh = await this.deps.store.savePendingCode(this.id, pending);
    this.log.info({ infoType, code: fingerprint(code), resent: !fresh }, "authorization code kept; exchanging it");
    this.exchangeSoon(pending);
    return "stored";
  }

  private authChanged(fields: Record<string, string>): Promise<PushOutcome> {
    const corpId = fields["AuthCorpId"] ?? "";
    if (!APP_ID_PATTERN.test(corpId)) {
      this.log.warn("change_auth push without a valid AuthCorpId; ignored");
      return Promise.resolve("ignored");
    }
    if (!this.corps.has(corpId)) {
      this.log.warn({ corp: corpId }, "change_auth for a corp not held; ignored");
      return Promise.resolve("ignored");
    }
    // Answered at once: the auth info is re-read after (it needs the suite token).
    this.rereadAuthInfo(corpId, 0);
    return Promise.resolve("stored");
  }

  private rereadAuthInfo(corpId: string, attempt: number): void {
    this.corps
      .serial(corpId, async () => {
        const held = this.corps.get(corpId);
        if (!held) return;
        const agents = await getAuthInfo(this.deps.client, corpId, held.refreshToken, (endpoint, what, call) => this.withSuiteToken(endpoint, what, call));
        const changed = await this.deps.store.updateAuthorizer(this.id, corpId, held.refreshToken, { agents, updatedAt: this.deps.clock.now() });
        this.log.info({ corp: corpId, agents, changed }, "corp's auth info re-read after change_auth");
      })
      .catch((err: Error) => {
        if (this.stopped) return;
        if (attempt + 1 >= EXCHANGE_RETRY_MS.length) return this.log.error({ corp: corpId, err: err.message }, "could not re-read the corp's auth info after change_auth");
        this.log.warn({ corp: corpId, err: err.message }, "could not re-read the corp's auth info yet; trying again");
        this.later(() => this.rereadAuthInfo(corpId, attempt + 1), EXCHANGE_RETRY_MS[attempt]!);
      });
  }

  private cancelled(fields: Record<string, string>): Promise<PushOutcome> {
    const corpId = fields["AuthCorpId"] ?? "";
    if (!APP_ID_PATTERN.test(corpId)) {
      this.log.warn("cancel_auth push without a valid AuthCorpId; ignored");
      return Promise.resolve("ignored");
    }
    const at = pushCreatedAt(fields, this.deps.clock.now());
    const keys = this.keysOf(corpId);
    return this.corps.serial(corpId, () => this.corps.deauthorize(corpId, at, keys));
  }

  // Authorization codes

  /**
   * An auth_code from the provider's redirect_uri (an install started on its
   * own site pushes no create_auth): exchanged and its permanent code stored
   * before this resolves.
   */
  authorizeByCode(code: string, ready?: () => Promise<unknown>): Promise<Authorized> {
    return this.redirectCodes.authorize(code, () => this.inFlight(this.exchangeRedirectCode(code)), ready);
  }

  private async exchangeRedirectCode(code: string): Promise<Authorized> {
    const requestedAt = this.deps.clock.now();
    const installed = await this.exchange(code);
    const at = this.deps.clock.now();
    await this.install(installed, "redirect", at, code, requestedAt);
    return { tenantId: installed.corpId, authorizedAt: at };
  }

  private exchange(code: string): Promise<Installed> {
    return getPermanentCode(this.deps.client, code, (endpoint, what, call) => this.withSuiteToken(endpoint, what, call));
  }

  /** A corp's permanent code WeCom just handed out: held (and served) at once, stored before this resolves (else kept and written again). */
  private install(installed: Installed, why: string, at: number, code: string, requestedAt: number): Promise<void> {
    const { corpId, permanentCode, agents, fetched } = installed;
    return this.corps.serial(corpId, async () => {
      const held = this.corps.get(corpId);
      if (why === "reset_permanent_code" && held && held.refreshToken !== permanentCode) {
        // 代开发: the old code stops working; the new one replaces it atomically.
        await this.corps.rotated(corpId, held.refreshToken, permanentCode);
        this.credential(this.tenantKey(corpId))?.retryNow("the corp's permanent code was reset");
        this.log.info({ corp: corpId, permanentCode: fingerprint(permanentCode) }, "corp's permanent code reset");
        return;
      }
      const record: StoredAuthorizer = { appId: corpId, refreshToken: permanentCode, status: "active", authorizedAt: at, updatedAt: this.deps.clock.now(), agents };
      this.corps.accept(record, code, () => this.serve(corpId, fetched && { fetched, requestedAt }));
      // A reinstall after a missed cancel_auth: its token (refused with the old code) tries again now, not at its next retry.
      if (!fetched) this.credential(this.tenantKey(corpId))?.retryNow("the corp installed the app again");
      const outcome = await this.corps.write(corpId, why);
      if (outcome === "stored") this.log.info({ corp: corpId, agents, permanentCode: fingerprint(permanentCode), why }, "corp installed the app: permanent code stored");
    });
  }

  private exchangeSoon(p: PendingCode, attempt = 0): void {
    if (this.stopped || this.exchanging.has(p.code)) return;
    this.exchanging.add(p.code);
    void this.inFlight(this.exchangePending(p, attempt).finally(() => this.exchanging.delete(p.code)));
  }

  private async exchangePending(p: PendingCode, attempt: number): Promise<void> {
    const now = this.deps.clock.now();
    const codeFp = fingerprint(p.code);
    if (now >= p.receivedAt + AUTH_CODE_LIFE_MS) {
      this.log.error({ code: codeFp, infoType: p.infoType }, "an authorization code expired before it could be exchanged: that install is lost, the corp must install the app again");
      await this.dropCode(p.code);
      return;
    }
    // One replica exchanges a code (a code works once); the claim outlives a few retries, then another replica may take over.
    if (!(await this.codeClaims.take(claimOf(p.code)))) return this.log.debug({ code: codeFp }, "another replica is exchanging the authorization code");
    try {
      const installed = await this.exchange(p.code);
      const at = p.infoType === "create_auth" ? p.createdAt : this.deps.clock.now();
      await this.install(installed, p.infoType, at, p.code, now);
      await this.dropCode(p.code);
    } catch (err) {
      if (err instanceof WeChatError && err.errcode === 40078) {
        // Used already (by this chain, before a crash) or expired: asking again cannot help.
        const known = p.tenantId !== undefined && this.corps.has(p.tenantId);
        this.log.warn({ code: codeFp, infoType: p.infoType, known }, "authorization code refused by WeCom (40078: used or expired); dropped");
        await this.dropCode(p.code);
        return;
      }
      const wait = EXCHANGE_RETRY_MS[Math.min(attempt, EXCHANGE_RETRY_MS.length - 1)]!;
      this.log.warn({ code: codeFp, infoType: p.infoType, err: (err as Error).message, retryInMs: wait }, "could not exchange the authorization code yet; trying again");
      if (this.stopped) return;
      const timer = this.deps.clock.setTimeout(() => {
        this.retryTimers.delete(p.code);
        this.exchangeSoon(p, attempt + 1);
      }, wait);
      this.retryTimers.set(p.code, timer);
    }
  }

  private async dropCode(code: string): Promise<void> {
    this.codeClaims.forget(claimOf(code));
    await this.deps.store.dropPendingCode(this.id, code).catch((err: Error) => this.log.warn({ err: err.message }, "could not drop an exchanged authorization code; it is dropped at the next sweep"));
  }

  /** Codes kept in the store (by this replica before a restart, or by one that stopped): exchanged here, now and every PENDING_SWEEP_MS. */
  private sweepPending(): void {
    if (this.stopped) return;
    void this.exchangeKept(false).finally(() => {
      if (!this.stopped) this.sweepTimer = this.deps.clock.setTimeout(() => this.sweepPending(), PENDING_SWEEP_MS);
    });
  }

  /**
   * Every code kept in the store is exchanged, unless this replica is at it.
   * `now`: one waiting to be tried again is tried at once (what it waited
   * for, the suite token or the store, is back).
   */
  private async exchangeKept(now: boolean): Promise<void> {
    let codes: PendingCode[];
    try {
      codes = await this.deps.store.pendingCodes(this.id);
    } catch (err) {
      return this.log.debug({ err: (err as Error).message }, "could not read the kept authorization codes yet");
    }
    for (const p of codes) {
      const timer = this.retryTimers.get(p.code);
      if (timer && !now) continue;
      if (timer) {
        this.deps.clock.clearTimeout(timer);
        this.retryTimers.delete(p.code);
      }
      this.exchangeSoon(p);
    }
  }

  /** A call made with the suite token: a stale one (42009, 40082) is compare-and-refreshed and the call retried once. */
  private withSuiteToken<T>(endpoint: string, what: string, call: (token: string) => Promise<T>): Promise<T> {
    const parent = this.deps.host.engine.parent({ appId: this.id, kind: "access_token" });
    const ctx: Pick<FetchContext, "extraCall" | "parent"> = { extraCall: () => undefined, parent };
    return withSuiteToken(ctx, endpoint, what, call);
  }

  // Changes

  private ticketArrived(): void {
    const suite = this.credential(this.tokenKey);
    if (!suite || (suite.current() && !suite.lastError())) return;
    suite.retryNow("a new suite_ticket arrived");
    // An attempt already in flight read the store before the ticket landed: its failure
    // is not recorded yet, so the retry above had nothing to bring forward. Once more, shortly.
    this.later(() => {
      if (!suite.current()) suite.retryNow("a new suite_ticket arrived");
    }, 1_000);
  }

  /** Runs `fn` in `ms` unless the suite stopped first. */
  private later(fn: () => void, ms: number): void {
    if (this.stopped) return;
    const timer = this.deps.clock.setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, ms);
    this.timers.add(timer);
  }

  private suiteTokenArrived(): void {
    void this.exchangeKept(true);
    for (const corpId of this.corps.appIds()) {
      const c = this.credential(this.tenantKey(corpId));
      const reason = c?.lastError()?.reason;
      if (c && reason !== undefined && reason !== "NEEDS_REAUTHORIZATION") c.retryNow("the suite token is back");
    }
  }

  /**
   * The store lost corps this replica holds (a Redis that restarted empty):
   * their permanent codes cannot be had again from WeCom, so the copies in
   * memory are written back.
   */
  private restoreLost(): void {
    if (this.stopped) return;
    // Every corp that finds its record gone says so: one write-back at a time (each reads all the suite's corps), and one more after it for losses noticed meanwhile.
    if (this.restoring) {
      this.restoreAgain = true;
      return;
    }
    this.restoring = this.writeBackLost().finally(() => {
      this.restoring = undefined;
      if (!this.restoreAgain) return;
      this.restoreAgain = false;
      this.restoreLost();
    });
  }

  private writeBackLost(): Promise<void> {
    const held = this.corps.appIds().map((corpId) => this.corps.get(corpId)!);
    return this.deps.store
      .authorizers(this.id)
      .then(async (stored) => {
        const missing = held.filter((a) => !stored.has(a.appId));
        if (missing.length === 0) return;
        const saved = await this.deps.store.saveAuthorizers(this.id, missing);
        this.log.warn({ count: saved.filter(Boolean).length }, "the store had lost these corps' permanent codes: written back from memory");
      })
      .catch((err: Error) => this.log.error({ err: err.message }, "could not write lost permanent codes back to the store; trying at the next change"));
  }

  private async changed(change: PlatformChange): Promise<void> {
    if (this.stopped) return;
    if (change.what === "all" && this.times.pending) await this.times.run();
    if (change.what === "all" || change.what === "ticket") {
      const { newer } = await this.tickets.reread({ restoreLost: change.what === "all" });
      if (change.what === "all") {
        await this.corps.reloadAll(false);
        void this.exchangeKept(true);
      }
      if (newer) this.ticketArrived();
      return;
    }
    const named = change.what === "authorizers" ? change.appIds : [change.appId];
    const held = named.flatMap((corpId) => this.corps.get(corpId) ?? []);
    if (change.what === "authorizers") await this.corps.reloadSome(change.appIds);
    else await this.corps.reloadOne(change.appId);
    const gone = held.filter((a) => !this.corps.has(a.appId));
    if (gone.length > 0) await this.keepIfLost(gone);
  }

  /**
   * Corps a change note said to re-read and the store no longer holds: they
   * left (cancel_auth on another replica), or the store lost them (a note
   * read just after a Redis restarted empty). A permanent code cannot be had
   * again, so each is offered back to the store: one it refuses left (its
   * de-authorization is held); one it takes was lost, and is served again.
   */
  private async keepIfLost(gone: readonly StoredAuthorizer[]): Promise<void> {
    if (this.stopped) return;
    try {
      const saved = await this.deps.store.saveAuthorizers(this.id, gone);
      const restored = gone.filter((_, i) => saved[i]).map((a) => a.appId);
      if (restored.length === 0) return;
      this.log.warn({ corps: restored.slice(0, 20), count: restored.length }, "the store had lost these corps' permanent codes: written back from memory");
      await this.corps.reloadSome(restored);
    } catch (err) {
      this.log.error({ corps: gone.slice(0, 20).map((a) => a.appId), err: (err as Error).message }, "the store no longer holds these corps and could not take their permanent codes back");
    }
  }
}

/** The store claim on exchanging a pushed code: a digest of it, never the code. */
function claimOf(code: string): string {
  return `code:${createHash("sha256").update(code).digest("hex").slice(0, 24)}`;
}

/**
 * One Open Platform (第三方平台): the chain from the pushed
 * component_verify_ticket to the component_access_token to every authorizer's
 * token. It keeps what must not be lost in the platform store (the ticket,
 * the authorizers' refresh tokens, through its TenantBook), handles the
 * pushes the receiver verified, exchanges authorization codes, re-reads the
 * authorizer list when refresh tokens are missing or refused, and adds
 * to the engine, one account at a time, the credentials of each account it
 * holds (in a lane of its own: paced under the platform's upstream ceiling,
 * eager or on demand), and removes those of an account that left.
 */
import type { Clock, TimerHandle } from "../clock.js";
import type { Credential } from "../core/credential.js";
import { APP_ID_PATTERN, credentialKey } from "../core/credential-id.js";
import type { Issuer } from "../core/issuer.js";
import type { CredentialEngine, Seed } from "../core/engine.js";
import { fingerprint } from "../fingerprint.js";
import { authorizerTokenIssuers, type RefreshTokenSource } from "../issuers/authorizer-token.js";
import { componentTokenIssuer, type TicketSource } from "../issuers/component.js";
import { officialTicketIssuer } from "../issuers/official.js";
import { ticketKind } from "../issuers/types.js";
import { fetchWithParent } from "../issuers/ticket.js";
import type { OfficialApp } from "../issuers/types.js";
import type { Logger } from "../log.js";
import { WeChatError } from "../upstream/errors.js";
import type { WeChatClient } from "../upstream/wechat-client.js";
import { TenantBook } from "../platform/tenant-book.js";
import type { AuthorizerPage } from "../platform/tenant-index.js";
import { queryAuth, startPushTicket, type Exchanged } from "./component-calls.js";
import { applyAuthorizerList, LIST_PATH, readAuthorizerList, type SyncResult } from "./sync.js";
import type { AuthorizerStatus, PlatformChange, PlatformStore, StoredAuthorizer, StoredTicket } from "../platform/store.js";
import type { PushOutcome } from "../platform/receiver.js";
import { TicketHolder } from "../platform/ticket-holder.js";
import { pushCreatedAt, StoredTimesRepair } from "../platform/push-times.js";
import { RedirectCodes } from "../platform/redirect-codes.js";
import { platformGroup, platformTokenGroup, type Authorized, type FamilyFacts, type PushedPlatform } from "../platform/pushed-platform.js";
import type { PlatformEntry } from "../config/platforms.js";

/** The Open Platform family: a component_verify_ticket pushed every 10 minutes, valid for 12 hours. */
export const OPEN_PLATFORM: FamilyFacts = {
  family: "open_platform",
  title: "Open Platform",
  ticketName: "component_verify_ticket",
  ticketLifetimeMs: 12 * 3600_000,
  pushIntervalMs: 600_000,
};

/** What the platform needs of the server around it. */
export interface PlatformHost {
  /** The engine: the platform adds and removes its accounts' credentials itself. */
  engine: Pick<CredentialEngine, "add" | "remove" | "byKey" | "parent" | "groupOf" | "lane">;
  /** Wraps an issuer so that its upstream calls are counted (metrics, under `group` rather than per account when given), or hands it back. */
  meter(issuer: Issuer, group?: string): Issuer;
}

export interface PlatformDeps {
  client: WeChatClient;
  store: PlatformStore;
  clock: Clock;
  log: Logger;
  host: PlatformHost;
}

export type { SyncResult } from "./sync.js";

export type SyncTrigger = "command" | "none stored" | "refused" | "missing";

export class OpenPlatform implements PushedPlatform, TicketSource, RefreshTokenSource {
  readonly componentAppId: string;
  readonly facts = OPEN_PLATFORM;
  private readonly log: Logger;
  /** The authorizers, as stored and as not yet stored. */
  private readonly authorizers: TenantBook;
  /** The newest component_verify_ticket (12 hours). */
  private readonly tickets: TicketHolder;
  /** AuthorizeByCode's codes: a retried call gets the account the first one authorized. */
  private readonly redirectCodes: RedirectCodes;
  private lastStartPushAt = -Infinity;
  private lastSyncAt = -Infinity;
  private syncing: Promise<SyncResult> | undefined;
  /** How far the last (or running) sync got in applying WeChat's list (metrics, status). */
  progress: { done: number; total: number } | undefined;
  private syncTimer: TimerHandle | undefined;
  /** When the waiting sync (syncTimer) runs. */
  private syncAt = Infinity;
  /** Accounts whose refresh token WeChat refused since it last worked: another refusal waits for syncMinIntervalMs. */
  private readonly refusedBefore = new Set<string>();
  /** Set when the store held no authorizer at start: a sync runs once the component token is there. */
  private syncWhenReady = false;
  /** The store could not be read at start: the first full reload decides whether it held any authorizer. */
  private loadFailed = false;
  /** Stored push times from the future, brought back to now at load (see push-times.ts). */
  private readonly times: StoredTimesRepair;
  private unsubscribe: (() => void) | undefined;
  private stopped = false;

  constructor(
    readonly entry: PlatformEntry,
    private readonly deps: PlatformDeps,
  ) {
    this.componentAppId = entry.componentAppId;
    this.log = deps.log.child({ component: entry.componentAppId });
    this.authorizers = new TenantBook(entry.componentAppId, deps.store, deps.clock, this.log, {
      joined: (appId) => this.serve(appId),
      left: (appId) => this.unserve(appId),
      lost: () => this.scheduleSync("missing"),
      refreshTokenReplaced: (appId) => this.credential(appId)?.retryNow("a new refresh token was stored"),
    });
    this.tickets = new TicketHolder(entry.componentAppId, OPEN_PLATFORM, deps.store, deps.clock, this.log);
    this.times = new StoredTimesRepair(entry.componentAppId, entry.maxClockSkewMs, deps.store, deps.clock, this.log, (r) => ({
      ticket: r.ticket,
      authorizers: r.authorized,
      deauthorized: r.deauthorized,
    }));
    this.redirectCodes = new RedirectCodes({
      platform: entry.componentAppId,
      store: deps.store,
      clock: deps.clock,
      log: this.log,
      load: (appId) => this.authorizers.reloadOne(appId),
      stopped: () => this.stopped,
    });
    this.group = platformGroup(entry.componentAppId);
    this.authorizerIssuer = authorizerTokenIssuers(entry, this, deps.client);
    deps.host.engine.lane(this.group, {
      maxCallsPerSecond: entry.maxCallsPerSecond,
      maxConcurrent: entry.maxConcurrentCalls,
      idleAfterMs: entry.onDemand ? entry.idleAfterMs : undefined,
    });
  }

  /** The engine group of its authorizers. */
  readonly group: string;

  get id(): string {
    return this.componentAppId;
  }

  get push(): PlatformEntry {
    return this.entry;
  }

  get tokenKey(): string {
    return this.componentAppId;
  }

  tenantKey(appId: string): string {
    return appId;
  }
  /** Makes an authorizer's token issuer (what they share made once). */
  private readonly authorizerIssuer: (appId: string) => Issuer;

  /**
   * Adds the component token and every account held to the engine (after
   * load): O(accounts), once. Later changes add or remove one account at a time.
   */
  serveAll(): void {
    this.deps.host.engine.add(this.deps.host.meter(componentTokenIssuer(this.entry, this, this.deps.client)), platformTokenGroup(this.componentAppId));
    let taken = 0;
    for (const appId of this.authorizers.appIds()) if (!this.serve(appId)) taken++;
    if (taken > 0) this.log.error({ count: taken }, "authorizers whose appid is configured otherwise are not served through the platform");
  }

  /** The account's token (and tickets) join the engine, from `seed` when an authorization just handed one out. Returns false when its appid is held otherwise. */
  private serve(appId: string, seed?: Seed): boolean {
    const { engine, meter } = this.deps.host;
    if (this.isTaken(appId)) return false;
    engine.add(meter(this.authorizerIssuer(appId), this.group), this.group, seed);
    if (this.entry.authorizerTickets.length > 0) {
      const app: OfficialApp = { type: "official", appId, secret: this.entry.secret, endpoint: "token", tickets: this.entry.authorizerTickets, jsSdk: { allowedOrigins: [] } };
      for (const t of this.entry.authorizerTickets) engine.add(meter(officialTicketIssuer(app, t, this.deps.client), this.group), this.group);
    }
    return true;
  }

  /** The account left: its credentials stop and go. */
  private unserve(appId: string): void {
    this.refusedBefore.delete(appId);
    if (this.isTaken(appId)) return;
    for (const key of this.keysOf(appId)) this.deps.host.engine.remove(key);
  }

  /** Whether the appid is held otherwise (under apps, or as another platform's authorizer): such an authorizer is not served. */
  private isTaken(appId: string): boolean {
    const group = this.deps.host.engine.groupOf(appId);
    return group !== undefined && group !== this.group;
  }

  private credential(key: string): Credential | undefined {
    return this.deps.host.engine.byKey(key);
  }

  /** The engine keys of an account's credentials. */
  private keysOf(appId: string): string[] {
    return [appId, ...this.entry.authorizerTickets.map((t) => credentialKey({ appId, kind: ticketKind(t) }))];
  }

  /** Reads the ticket and the authorizers from the store; follows later changes. */
  async load(): Promise<void> {
    // Before following changes: the repair's own change is no news to this replica.
    await this.times.run();
    this.unsubscribe = this.deps.store.onPlatformChange((change) => {
      if (change.component === this.componentAppId) this.changed(change).catch((err: Error) => this.log.warn({ err: err.message }, "could not reload a platform change"));
    });
    try {
      const ticket = await this.tickets.load();
      this.authorizers.loaded(await this.deps.store.authorizers(this.componentAppId));
      this.syncWhenReady = this.authorizers.size === 0;
      this.loadFailed = false;
      this.log.info({ authorizers: this.authorizers.size, ticketExpiresAt: ticket && new Date(ticket.expiresAt).toISOString() }, "open platform loaded");
    } catch (err) {
      // The shared store is down: its reconnect replays every change.
      this.loadFailed = true;
      this.log.warn({ err: (err as Error).message }, "open platform store unreadable at start; waiting for it");
    }
  }

  /** After the engine started: follows the component token (a sync waiting for it, authorizers failing for want of it). */
  start(): void {
    const component = this.credential(this.componentAppId);
    component?.onToken(() => this.componentTokenArrived());
    if (component?.current()) this.componentTokenArrived();
  }

  stop(): void {
    this.stopped = true;
    this.unsubscribe?.();
    this.authorizers.stop();
    if (this.syncTimer) this.deps.clock.clearTimeout(this.syncTimer);
  }

  /** Whether the account authorized this platform (whatever its status). */
  holds(appId: string): boolean {
    return this.authorizers.has(appId);
  }

  /** One page of the authorizers as stored, by appid, after `after` (ListAuthorizers; see tenant-index.ts). */
  authorizerPage(after: string | undefined, limit: number, status?: AuthorizerStatus): AuthorizerPage {
    return this.authorizers.page(after, limit, status);
  }

  /** How many authorizers are held, with this status or all (metrics, without listing them). */
  authorizerCount(status?: AuthorizerStatus): number {
    return this.authorizers.count(status);
  }

  /** The newest ticket held, if any (ListAuthorizers: its times only). */
  heldTicket(): StoredTicket | undefined {
    return this.tickets.held();
  }

  // TicketSource

  async usableTicket(): Promise<string | undefined> {
    const t = await this.tickets.usable();
    if ("value" in t) return t.value;
    this.requestPush(t.missing === "none" ? "no ticket held" : "ticket expired or refused");
    return undefined;
  }

  ticketRefused(ticket: string): void {
    this.tickets.refused(ticket);
    this.requestPush("ticket refused");
  }

  // RefreshTokenSource

  refreshTokenOf(appId: string): Promise<string | undefined> {
    return this.authorizers.refreshTokenOf(appId);
  }

  refreshTokenRotated(appId: string, previous: string, next: string): Promise<void> {
    this.refusedBefore.delete(appId);
    return this.authorizers.rotated(appId, previous, next);
  }

  /** At shutdown: refresh tokens the store refused are tried once more (see TenantBook.flushWrites). */
  flushWrites(): Promise<void> {
    return this.authorizers.flushWrites();
  }

  refreshTokenWorked(appId: string, refreshToken: string): void {
    this.refusedBefore.delete(appId);
    if (this.authorizers.get(appId)?.status !== "needs_reauthorization") return;
    this.authorizers.setStatus(appId, refreshToken, "active");
  }

  refreshTokenRefused(appId: string, refreshToken: string): void {
    // A first refusal may be a re-authorization whose push was lost: the list, read soon, holds its new refresh token.
    // An account refused again at each retry (or listed by WeChat and refused all the same) does not have it read every minute.
    const first = !this.refusedBefore.has(appId);
    this.refusedBefore.add(appId);
    this.log.error({ authorizer: appId, refreshToken: fingerprint(refreshToken) }, "WeChat refused the authorizer's refresh token: the account must authorize the platform again");
    this.authorizers.setStatus(appId, refreshToken, "needs_reauthorization");
    this.scheduleSync("refused", first ? this.entry.refusedSyncMinIntervalMs : this.entry.syncMinIntervalMs);
  }

  // Pushes

  /** A push the receiver verified and decrypted. Rejects when what it carries could not be stored (WeChat then retries). */
  async handlePush(fields: Record<string, string>): Promise<PushOutcome> {
    const inner = fields["AppId"];
    if (inner !== undefined && inner !== this.componentAppId) {
      this.log.warn({ appId: inner }, "push names another component appid; ignored");
      return "ignored";
    }
    switch (fields["InfoType"]) {
      case "component_verify_ticket":
        return this.ticketPushed(fields);
      case "authorized":
      case "updateauthorized":
        return this.authorized(fields);
      case "unauthorized":
        return this.unauthorized(fields);
      default:
        this.log.info({ infoType: fields["InfoType"] }, "push of a type wxtoken does not handle; answered success");
        return "ignored";
    }
  }

  private async ticketPushed(fields: Record<string, string>): Promise<PushOutcome> {
    const outcome = await this.tickets.pushed(fields["ComponentVerifyTicket"], pushCreatedAt(fields, this.deps.clock.now()));
    if (outcome === "stored") this.ticketArrived();
    return outcome;
  }

  private authorized(fields: Record<string, string>): Promise<PushOutcome> {
    const appId = fields["AuthorizerAppid"] ?? "";
    const code = fields["AuthorizationCode"] ?? "";
    if (!APP_ID_PATTERN.test(appId) || code === "") {
      this.log.warn({ infoType: fields["InfoType"] }, "authorization push without a valid AuthorizerAppid or AuthorizationCode; ignored");
      return Promise.resolve("ignored");
    }
    if (this.isTaken(appId)) {
      this.log.error({ authorizer: appId }, "an account authorized the platform, but its appid is configured otherwise on this server; not served through the platform");
    }
    const at = pushCreatedAt(fields, this.deps.clock.now());
    return this.authorizers.serial(appId, () => this.authorize(appId, code, at, fields["InfoType"]!));
  }

  private async authorize(appId: string, code: string, at: number, infoType: string): Promise<PushOutcome> {
    const exchanged = this.authorizers.exchangedFor(code);
    // WeChat retried a push whose code was exchanged but not stored: store what it gave.
    if (exchanged !== undefined) return this.authorizers.write(exchanged, "retried push");
    const requestedAt = this.deps.clock.now();
    let info: Exchanged;
    try {
      info = await queryAuth(this.deps.client, this.componentAppId, code, (endpoint, what, call) => this.withComponentToken(endpoint, what, call));
    } catch (err) {
      if (err instanceof WeChatError && (err.errcode === 61009 || err.errcode === 61010)) {
        // Already exchanged (a replica took the same push), or too late: asking again cannot help.
        if (this.authorizers.has(appId)) {
          this.log.warn({ authorizer: appId, errcode: err.errcode }, "authorization code not exchangeable; the account is held, ignored");
        } else {
          this.log.warn({ authorizer: appId, errcode: err.errcode }, "authorization code not exchangeable and the account is not held: reading WeChat's authorizer list");
          this.scheduleSync("missing");
        }
        return "ignored";
      }
      throw err;
    }
    if (info.appId !== appId) this.log.warn({ authorizer: appId, answered: info.appId }, "query_auth answered another appid; using WeChat's");
    const record: StoredAuthorizer = { appId: info.appId, refreshToken: info.refreshToken, status: "active", authorizedAt: at, updatedAt: this.deps.clock.now() };
    this.authorizers.accept(record, code, () => this.serve(info.appId, info.fetched && { fetched: info.fetched, requestedAt }));
    return this.authorizers.write(info.appId, infoType);
  }

  /**
   * An authorization code from the business server's redirect_uri (an
   * authorization started on its own site): exchanged (api_query_auth) and
   * stored as a push's would be, before it resolves. WeChat's refusal of the
   * code (61009 used, 61010 expired) is the caller's error.
   */
  authorizeByCode(code: string, ready?: () => Promise<unknown>): Promise<Authorized> {
    return this.redirectCodes.authorize(code, () => this.exchangeRedirectCode(code), ready);
  }

  private async exchangeRedirectCode(code: string): Promise<Authorized> {
    const requestedAt = this.deps.clock.now();
    const info = await queryAuth(this.deps.client, this.componentAppId, code, (endpoint, what, call) => this.withComponentToken(endpoint, what, call));
    if (this.isTaken(info.appId)) {
      this.log.error({ authorizer: info.appId }, "an account authorized the platform, but its appid is configured otherwise on this server; not served through the platform");
    }
    return this.authorizers.serial(info.appId, async () => {
      const now = this.deps.clock.now();
      const record: StoredAuthorizer = { appId: info.appId, refreshToken: info.refreshToken, status: "active", authorizedAt: now, updatedAt: now };
      this.authorizers.accept(record, code, () => this.serve(info.appId, info.fetched && { fetched: info.fetched, requestedAt }));
      await this.authorizers.write(info.appId, "authorization code by redirect");
      return { tenantId: info.appId, authorizedAt: now };
    });
  }

  private unauthorized(fields: Record<string, string>): Promise<PushOutcome> {
    const appId = fields["AuthorizerAppid"] ?? "";
    if (!APP_ID_PATTERN.test(appId)) {
      this.log.warn("unauthorized push without a valid AuthorizerAppid; ignored");
      return Promise.resolve("ignored");
    }
    const at = pushCreatedAt(fields, this.deps.clock.now());
    const keys = this.keysOf(appId);
    return this.authorizers.serial(appId, () => this.authorizers.deauthorize(appId, at, keys));
  }

  // Sync (api_get_authorizer_list)

  /**
   * Re-reads every authorizer and refresh token from WeChat: restores the
   * missing, takes changed refresh tokens, marks accounts no longer listed.
   * Concurrent calls share one run.
   */
  sync(trigger: SyncTrigger = "command"): Promise<SyncResult> {
    this.syncing ??= this.doSync(trigger).finally(() => {
      this.syncing = undefined;
    });
    return this.syncing;
  }

  private async doSync(trigger: SyncTrigger): Promise<SyncResult> {
    const startedAt = (this.lastSyncAt = this.deps.clock.now());
    const listed = await readAuthorizerList(this.componentAppId, this.deps.client, this.deps.clock, (what, call) => this.withComponentToken(LIST_PATH, what, call));
    this.progress = { done: 0, total: listed.length };
    const { result, retry } = await applyAuthorizerList(this.deps.store, this.componentAppId, listed, this.deps.clock.now(), startedAt, async (batch, done) => {
      // Accounts restored in this batch are served (and their tokens fetched, paced) while the rest is written.
      await this.authorizers.reloadSome(batch);
      this.progress = { done, total: listed.length };
      this.log.info({ trigger }, `authorizer list applied: ${done.toLocaleString("en-US")} of ${listed.length.toLocaleString("en-US")}`);
    });
    await this.reloadAll(true);
    this.log.info({ trigger, ...result }, "authorizer list synced from WeChat");
    for (const appId of retry) this.credential(appId)?.retryNow("refresh token restored from the authorizer list");
    return result;
  }

  /** A call made with the component token: a stale one is compare-and-refreshed and the call retried once. */
  private withComponentToken<T>(endpoint: string, what: string, call: (token: string) => Promise<T>): Promise<T> {
    const parent = this.deps.host.engine.parent({ appId: this.componentAppId, kind: "access_token" });
    return fetchWithParent({ extraCall: () => undefined, parent }, endpoint, what, call);
  }

  /**
   * An automatic sync, no sooner than floorMs after the last one began (at
   * once when stored refresh tokens went missing). One waits at a time: a
   * trigger whose floor allows it sooner brings it forward.
   */
  private scheduleSync(trigger: SyncTrigger, floorMs = this.entry.syncMinIntervalMs): void {
    if (this.stopped) return;
    const now = this.deps.clock.now();
    const at = trigger === "missing" ? now : Math.max(now, this.lastSyncAt + floorMs);
    if (this.syncTimer) {
      if (at >= this.syncAt) return;
      this.deps.clock.clearTimeout(this.syncTimer);
      this.syncTimer = undefined;
    }
    const run = () => {
      this.syncTimer = undefined;
      this.sync(trigger).catch((err: Error) => this.log.warn({ trigger, err: err.message }, "automatic authorizer sync failed"));
    };
    if (at <= now) return run();
    this.syncAt = at;
    this.syncTimer = this.deps.clock.setTimeout(run, at - now);
  }

  // Changes

  /**
   * Asks WeChat to push a ticket now, no more often than
   * startPushMinIntervalMs: on this replica, and across replicas sharing a
   * store (a claim in Redis; if Redis cannot be asked, this replica's own limit holds).
   */
  private requestPush(why: string): void {
    const now = this.deps.clock.now();
    if (this.stopped || now - this.lastStartPushAt < this.entry.startPushMinIntervalMs) return;
    this.lastStartPushAt = now;
    this.deps.store
      .claim(this.componentAppId, "start-push-ticket", this.entry.startPushMinIntervalMs)
      .catch(() => true)
      .then(async (mine) => {
        if (!mine) return this.log.debug({ why }, "another replica asked WeChat to push a component_verify_ticket");
        await startPushTicket(this.deps.client, this.entry);
        this.log.info({ why }, "asked WeChat to push a component_verify_ticket");
      })
      .catch((err: Error) => this.log.warn({ why, err: err.message }, "could not ask WeChat to push a component_verify_ticket"));
  }

  private ticketArrived(): void {
    this.credential(this.componentAppId)?.retryNow("a new component_verify_ticket arrived");
  }

  private componentTokenArrived(): void {
    if (this.syncWhenReady) {
      this.syncWhenReady = false;
      this.scheduleSync("none stored");
    }
    for (const appId of this.authorizers.appIds()) {
      const c = this.credential(appId);
      const reason = c?.lastError()?.reason;
      if (c && reason !== "NEEDS_REAUTHORIZATION") c.retryNow("the component token is back");
    }
  }

  private async changed(change: PlatformChange): Promise<void> {
    if (this.stopped) return;
    if (change.what === "all" && this.times.pending) await this.times.run();
    if (change.what === "all" || change.what === "ticket") {
      const { newer } = await this.tickets.reread();
      if (change.what === "all") await this.reloadAll(false);
      else if (newer) this.ticketArrived();
      return;
    }
    if (change.what === "authorizers") await this.authorizers.reloadSome(change.appIds);
    else await this.authorizers.reloadOne(change.appId);
  }

  /** The authorizers from the store (see TenantBook.reloadAll); the first answer after a failed start may call for WeChat's list. */
  private async reloadAll(authoritative: boolean): Promise<void> {
    const stored = await this.authorizers.reloadAll(authoritative);
    if (this.loadFailed) {
      // The store was unreadable at start and answers now: empty, it is treated as a start with none stored.
      this.loadFailed = false;
      if (stored === 0 && this.authorizers.size === 0) {
        this.log.info("open platform store readable again and holds no authorizer: WeChat's authorizer list is read once the component token is there");
        this.syncWhenReady = true;
        if (this.credential(this.componentAppId)?.current()) this.componentTokenArrived();
      }
    }
  }
}

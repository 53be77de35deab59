/**
 * One Open Platform (第三方平台): the chain from the pushed
 * component_verify_ticket to the component_access_token to every authorizer's
 * token. It keeps what must not be lost in the platform store (the ticket,
 * the authorizers' refresh tokens), handles the pushes the receiver
 * verified, exchanges authorization codes, re-reads the authorizer list when
 * refresh tokens are missing or refused, and hands the engine the issuers of
 * its credentials (the host reconciles them in a group of their own).
 */
import type { Clock, TimerHandle } from "../clock.js";
import type { Credential } from "../core/refresher.js";
import { APP_ID_PATTERN, credentialKey } from "../core/credential.js";
import type { Fetched, Issuer, ParentToken } from "../core/issuer.js";
import { fingerprint } from "../fingerprint.js";
import {
  AUTHORIZER_TOKEN_ERRCODES,
  authorizerTokenIssuer,
  COMPONENT_TOKEN_ERRCODES,
  componentTokenIssuer,
  type RefreshTokenSource,
  type TicketSource,
} from "../issuers/component.js";
import { officialTicketIssuer } from "../issuers/official.js";
import { fetchWithParent } from "../issuers/ticket.js";
import type { OfficialApp } from "../issuers/types.js";
import type { Logger } from "../log.js";
import { UpstreamTransportError, WeChatError, type ErrcodeTable } from "../upstream/errors.js";
import type { WeChatClient } from "../upstream/wechat-client.js";
import { AccountWrites } from "./account-writes.js";
import type { PushOutcome } from "./receiver.js";
import { applyAuthorizerList, LIST_PATH, readAuthorizerList, type SyncResult } from "./sync.js";
import type { PlatformChange, PlatformStore, StoredAuthorizer, StoredTicket } from "./store.js";
import type { PlatformEntry } from "./types.js";

/** WeChat: a component_verify_ticket is valid for 12 hours. */
export const TICKET_LIFETIME_MS = 12 * 3600_000;

const START_PUSH_PATH = "/cgi-bin/component/api_start_push_ticket";
const QUERY_AUTH_PATH = "/cgi-bin/component/api_query_auth";

const QUERY_AUTH_ERRCODES: ErrcodeTable = {
  ...AUTHORIZER_TOKEN_ERRCODES,
  61009: { kind: "permanent", meaning: "authorization code invalid or already used" },
  61010: { kind: "permanent", meaning: "authorization code expired" },
};

/** What the platform needs of the server around it. */
export interface PlatformHost {
  /** The engine's handle on a credential's token (the component token, an authorizer's), looked up at each use. */
  parent(appId: string): ParentToken;
  /** The engine's credential under this key, if held. */
  credential(key: string): Credential | undefined;
  /** Whether the appid is configured otherwise (under apps, or as another platform's authorizer): such an authorizer is not served. */
  isTaken(appId: string, component: string): boolean;
  /** The platform's authorizers changed: reconcile its issuers, starting a new authorizer from `seed`. */
  authorizersChanged(platform: OpenPlatform, seed?: { appId: string; fetched: Fetched; requestedAt: number }): void;
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

export class OpenPlatform implements TicketSource, RefreshTokenSource {
  readonly componentAppId: string;
  private readonly log: Logger;
  /** The store's authorizers, mirrored (reloaded on every change a replica makes). */
  private readonly authorizers = new Map<string, StoredAuthorizer>();
  private ticket: StoredTicket | undefined;
  /** A ticket WeChat refused (61005/61006): not used again. */
  private refusedTicket: string | undefined;
  private lastStartPushAt = -Infinity;
  private lastSyncAt = -Infinity;
  private syncing: Promise<SyncResult> | undefined;
  private syncTimer: TimerHandle | undefined;
  /** Set when the store held no authorizer at start: a sync runs once the component token is there. */
  private syncWhenReady = false;
  /** The store could not be read at start: the first full reload decides whether it held any authorizer. */
  private loadFailed = false;
  /** Per-account order of pushes and writes; writes the store refused, tried again. */
  private readonly writes: AccountWrites;
  /** Refresh tokens WeChat rotated that the store could not take yet: used, and written again. */
  private readonly unsaved = new Map<string, { previous: string; next: string }>();
  /**
   * Authorizations exchanged whose record the store could not take yet: served
   * from memory and written again. Their codes are remembered, since WeChat's
   * retry of the push carries a code query_auth will not exchange twice.
   */
  private readonly unsavedAuth = new Map<string, StoredAuthorizer>();
  private readonly exchanged = new Map<string, string>();
  private unsubscribe: (() => void) | undefined;
  private stopped = false;

  constructor(
    readonly entry: PlatformEntry,
    private readonly deps: PlatformDeps,
  ) {
    this.componentAppId = entry.componentAppId;
    this.log = deps.log.child({ component: entry.componentAppId });
    this.writes = new AccountWrites({ clock: deps.clock, log: this.log });
  }

  /** Reads the ticket and the authorizers from the store; follows later changes. */
  async load(): Promise<void> {
    this.unsubscribe = this.deps.store.onPlatformChange((change) => {
      if (change.component === this.componentAppId) this.changed(change).catch((err: Error) => this.log.warn({ err: err.message }, "could not reload a platform change"));
    });
    try {
      this.ticket = await this.deps.store.ticket(this.componentAppId);
      for (const [appId, a] of await this.deps.store.authorizers(this.componentAppId)) this.authorizers.set(appId, a);
      this.syncWhenReady = this.authorizers.size === 0;
      this.loadFailed = false;
      this.log.info({ authorizers: this.authorizers.size, ticketExpiresAt: this.ticket && new Date(this.ticket.expiresAt).toISOString() }, "open platform loaded");
    } catch (err) {
      // The shared store is down: its reconnect replays every change.
      this.loadFailed = true;
      this.log.warn({ err: (err as Error).message }, "open platform store unreadable at start; waiting for it");
    }
  }

  /** After the engine started: follows the component token (a sync waiting for it, authorizers failing for want of it). */
  start(): void {
    const component = this.deps.host.credential(this.componentAppId);
    component?.onToken(() => this.componentTokenArrived());
    if (component?.current()) this.componentTokenArrived();
  }

  stop(): void {
    this.stopped = true;
    this.unsubscribe?.();
    this.writes.stop();
    if (this.syncTimer) this.deps.clock.clearTimeout(this.syncTimer);
  }

  /** The component token and every authorizer's token (and tickets), as issuers. */
  issuers(): Issuer[] {
    const out: Issuer[] = [componentTokenIssuer(this.entry, this, this.deps.client)];
    for (const appId of [...this.authorizers.keys()].sort()) {
      if (!this.deps.host.isTaken(appId, this.componentAppId)) out.push(...this.issuersOf(appId));
    }
    return out;
  }

  /** An authorizer's token and its JS-SDK tickets. */
  private issuersOf(appId: string): Issuer[] {
    const { client } = this.deps;
    const app: OfficialApp = { type: "official", appId, secret: this.entry.secret, endpoint: "token", tickets: this.entry.authorizerTickets, jsSdk: { allowedOrigins: [] } };
    return [
      authorizerTokenIssuer(this.entry, appId, this, client, this.deps.host.parent(this.componentAppId)),
      ...this.entry.authorizerTickets.map((t) => officialTicketIssuer(app, t, client, this.deps.host.parent(appId))),
    ];
  }

  /** Whether the account authorized this platform (whatever its status). */
  holds(appId: string): boolean {
    return this.authorizers.has(appId);
  }

  /** The authorizers as stored (ListAuthorizers). */
  listAuthorizers(): StoredAuthorizer[] {
    return [...this.authorizers.values()].sort((a, b) => (a.appId < b.appId ? -1 : 1));
  }

  /** The newest ticket held, if any (ListAuthorizers: its times only). */
  heldTicket(): StoredTicket | undefined {
    return this.ticket;
  }

  // TicketSource

  async usableTicket(): Promise<string | undefined> {
    const t = await this.deps.store.ticket(this.componentAppId);
    if (t) this.ticket = t;
    if (!t || t.expiresAt <= this.deps.clock.now() || t.value === this.refusedTicket) {
      this.requestPush(t ? "ticket expired or refused" : "no ticket held");
      return undefined;
    }
    return t.value;
  }

  ticketRefused(ticket: string): void {
    this.refusedTicket = ticket;
    this.log.warn({ ticket: fingerprint(ticket) }, "WeChat refused the component_verify_ticket; waiting for a new push");
    this.requestPush("ticket refused");
  }

  // RefreshTokenSource

  async refreshTokenOf(appId: string): Promise<string | undefined> {
    // Not in the store yet (it refused the write): the copy in memory works, and is written again.
    const pending = this.unsavedAuth.get(appId)?.refreshToken ?? this.unsaved.get(appId)?.next;
    if (pending !== undefined) return pending;
    const a = await this.deps.store.authorizer(this.componentAppId, appId);
    if (a) {
      this.authorizers.set(appId, a);
      return a.refreshToken;
    }
    // The store lost it (a Redis restarted empty): the copy in memory still works,
    // and WeChat's list puts it back in the store.
    const mirrored = this.authorizers.get(appId)?.refreshToken;
    if (mirrored !== undefined) this.scheduleSync("missing");
    return mirrored;
  }

  async refreshTokenRotated(appId: string, previous: string, next: string): Promise<void> {
    this.log.info({ authorizer: appId, refreshToken: fingerprint(next) }, "WeChat rotated the authorizer's refresh token");
    const pendingAuth = this.unsavedAuth.get(appId);
    if (pendingAuth) {
      // The rotation of a refresh token an authorization since replaced: the authorization's wins.
      if (pendingAuth.refreshToken !== previous) return;
      // Written with the authorization, whose write is tried again.
      this.unsavedAuth.set(appId, { ...pendingAuth, refreshToken: next, updatedAt: this.deps.clock.now() });
      this.retryAuthorization(appId);
      return;
    }
    this.unsaved.set(appId, { previous, next });
    // A compare-and-set, safe beside the account's pushes without waiting for
    // them (this runs under the credential's refresh lock).
    await this.saveRotation(appId).catch((err: Error) => {
      this.log.error({ authorizer: appId, err: err.message }, "could not store the rotated refresh token; keeping it in memory and trying again");
      this.writes.retry(appId, "rotated refresh token", () => this.saveRotation(appId));
    });
  }

  /** Writes the account's unsaved authorization again on the retry timer, unless that is planned already. */
  private retryAuthorization(appId: string): void {
    if (!this.writes.has(appId)) this.writes.retry(appId, "authorization", () => this.storeAuthorization(appId, "retried write").then(() => undefined));
  }

  /**
   * At shutdown, after the last refreshes landed: every write the store
   * refused is tried once more. A refresh token still unwritten is named in
   * the log; after the restart, WeChat's retried push or the authorizer list brings it back.
   */
  async flushWrites(): Promise<void> {
    const left = await this.writes.tryNow();
    if (left.length > 0) this.log.error({ authorizers: left }, "stopping with refresh tokens the store did not take: run `wxtoken platform --sync` after the restart if these accounts fail");
  }

  refreshTokenWorked(appId: string, refreshToken: string): void {
    if (this.authorizers.get(appId)?.status !== "needs_reauthorization") return;
    this.setStatus(appId, refreshToken, "active");
  }

  refreshTokenRefused(appId: string, refreshToken: string): void {
    this.log.error({ authorizer: appId, refreshToken: fingerprint(refreshToken) }, "WeChat refused the authorizer's refresh token: the account must authorize the platform again");
    this.setStatus(appId, refreshToken, "needs_reauthorization");
    this.scheduleSync("refused");
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
    const value = fields["ComponentVerifyTicket"];
    if (!value) {
      this.log.warn("component_verify_ticket push without a ticket; ignored");
      return "ignored";
    }
    const now = this.deps.clock.now();
    const ticket: StoredTicket = { value, createdAt: this.pushTime(fields), receivedAt: now, expiresAt: now + TICKET_LIFETIME_MS };
    const stored = await this.deps.store.saveTicket(this.componentAppId, ticket);
    if (!stored) {
      this.log.info({ ticket: fingerprint(value) }, "an older component_verify_ticket push; the newer one is kept");
      return "ignored";
    }
    this.ticket = ticket;
    this.log.info({ ticket: fingerprint(value), expiresAt: new Date(ticket.expiresAt).toISOString() }, "component_verify_ticket stored");
    this.ticketArrived();
    return "stored";
  }

  private authorized(fields: Record<string, string>): Promise<PushOutcome> {
    const appId = fields["AuthorizerAppid"] ?? "";
    const code = fields["AuthorizationCode"] ?? "";
    if (!APP_ID_PATTERN.test(appId) || code === "") {
      this.log.warn({ infoType: fields["InfoType"] }, "authorization push without a valid AuthorizerAppid or AuthorizationCode; ignored");
      return Promise.resolve("ignored");
    }
    if (this.deps.host.isTaken(appId, this.componentAppId)) {
      this.log.error({ authorizer: appId }, "an account authorized the platform, but its appid is configured otherwise on this server; not served through the platform");
    }
    const at = this.pushTime(fields);
    return this.writes.serial(appId, () => this.authorize(appId, code, at, fields["InfoType"]!));
  }

  private async authorize(appId: string, code: string, at: number, infoType: string): Promise<PushOutcome> {
    const exchanged = this.exchanged.get(code);
    // WeChat retried a push whose code was exchanged but not stored: store what it gave.
    if (exchanged !== undefined) return this.storeAuthorization(exchanged, "retried push");
    const requestedAt = this.deps.clock.now();
    let info: { appId: string; refreshToken: string; fetched: Fetched };
    try {
      info = await this.queryAuth(code);
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
    // Mirrored and served before the store tells every listener (this one too):
    // the change is not taken for another replica's, the credential starts from
    // the token just issued, and that token is written to a shared store ahead
    // of the authorizer, so a replica that hears of it adopts the token instead
    // of fetching another one.
    this.authorizers.set(info.appId, record);
    this.unsavedAuth.set(info.appId, record);
    this.exchanged.set(code, info.appId);
    this.unsaved.delete(info.appId);
    this.writes.drop(info.appId);
    this.deps.host.authorizersChanged(this, { appId: info.appId, fetched: info.fetched, requestedAt });
    return this.storeAuthorization(info.appId, infoType);
  }

  /**
   * Writes an exchanged authorization. When the store refuses, the refresh
   * token stays in memory (served, and written again on a timer) and the push
   * fails, so WeChat retries it too.
   */
  private async storeAuthorization(appId: string, why: string): Promise<PushOutcome> {
    const record = this.unsavedAuth.get(appId);
    if (!record) return "stored";
    let saved: boolean;
    try {
      saved = await this.deps.store.saveAuthorizer(this.componentAppId, record);
    } catch (err) {
      this.log.error({ authorizer: appId, err: (err as Error).message }, "could not store the authorizer's refresh token; serving it from memory and trying again");
      this.retryAuthorization(appId);
      throw err;
    }
    const newer = this.unsavedAuth.get(appId) !== record;
    if (!newer) this.unsavedAuth.delete(appId);
    for (const [code, owner] of this.exchanged) if (owner === appId) this.exchanged.delete(code);
    if (!saved) {
      this.unsavedAuth.delete(appId);
      this.log.warn({ authorizer: appId, authorizedAt: new Date(record.authorizedAt).toISOString() }, "authorization older than a de-authorization or a later authorization the store holds; not served");
      await this.reloadOne(appId);
      return "ignored";
    }
    // A rotation changed the record while this write ran: the newer one is written too.
    if (newer && this.unsavedAuth.has(appId)) this.writes.retry(appId, "authorization", () => this.storeAuthorization(appId, "rotated meanwhile").then(() => undefined));
    this.log.info({ authorizer: appId, why, refreshToken: fingerprint(record.refreshToken) }, "authorizer stored");
    return "stored";
  }

  private unauthorized(fields: Record<string, string>): Promise<PushOutcome> {
    const appId = fields["AuthorizerAppid"] ?? "";
    if (!APP_ID_PATTERN.test(appId)) {
      this.log.warn("unauthorized push without a valid AuthorizerAppid; ignored");
      return Promise.resolve("ignored");
    }
    const at = this.pushTime(fields);
    return this.writes.serial(appId, () => this.deauthorize(appId, at));
  }

  private async deauthorize(appId: string, at: number): Promise<PushOutcome> {
    // Served no more before its stored tokens go: a refresh landing after this
    // must not write them back (a removed credential stores nothing).
    const pending = this.unsavedAuth.get(appId);
    if (!pending || pending.authorizedAt <= at) {
      this.unsavedAuth.delete(appId);
      for (const [code, owner] of this.exchanged) if (owner === appId) this.exchanged.delete(code);
      this.unsaved.delete(appId);
      this.writes.drop(appId);
    }
    const held = this.authorizers.get(appId);
    const drop = held !== undefined && held.authorizedAt <= at && !this.unsavedAuth.has(appId);
    if (drop) {
      this.authorizers.delete(appId);
      this.deps.host.authorizersChanged(this);
    }
    const keys = this.issuersOf(appId).map((i) => credentialKey(i.id));
    const outcome = await this.deps.store.removeAuthorizer(this.componentAppId, appId, at, keys);
    if (outcome === "newer_held") {
      this.log.info({ authorizer: appId }, "a de-authorization older than the account's latest authorization; ignored");
      // Another replica stored that authorization: it is served here too.
      if (drop) await this.reloadOne(appId);
      return "ignored";
    }
    const gone = outcome === "removed" || drop;
    this.log.info({ authorizer: appId }, gone ? "authorizer de-authorized: no longer served, refresh token dropped" : "de-authorization of an account not held (remembered against late pushes)");
    return gone ? "stored" : "ignored";
  }

  /** When WeChat created the push (its CreateTime), ms; a push without one counts as now. */
  private pushTime(fields: Record<string, string>): number {
    const created = Number(fields["CreateTime"]);
    return Number.isFinite(created) && created > 0 ? created * 1000 : this.deps.clock.now();
  }

  /** api_query_auth: the authorizer's appid, refresh token and a first access token for an authorization code. */
  private async queryAuth(code: string): Promise<{ appId: string; refreshToken: string; fetched: Fetched }> {
    const client = this.deps.client;
    const body = await this.withComponentToken(QUERY_AUTH_PATH, "query_auth", (token) =>
      client.request(QUERY_AUTH_PATH, {
        query: { component_access_token: token },
        body: { component_appid: this.componentAppId, authorization_code: code },
        redact: [token, code],
        errcodes: QUERY_AUTH_ERRCODES,
      }),
    );
    const info = body["authorization_info"];
    const o = typeof info === "object" && info !== null ? (info as Record<string, unknown>) : {};
    const appId = o["authorizer_appid"];
    const refreshToken = o["authorizer_refresh_token"];
    if (typeof appId !== "string" || !APP_ID_PATTERN.test(appId) || typeof refreshToken !== "string" || refreshToken === "") {
      throw new UpstreamTransportError(QUERY_AUTH_PATH, "BAD_BODY", "authorization_info lacks authorizer_appid or authorizer_refresh_token");
    }
    const fetched = client.valueOf(QUERY_AUTH_PATH, o, "authorizer_access_token", [code, refreshToken]);
    return { appId, refreshToken, fetched };
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
    const { result, retry } = await applyAuthorizerList(this.deps.store, this.componentAppId, listed, this.deps.clock.now(), startedAt);
    await this.reloadAll();
    this.log.info({ trigger, ...result }, "authorizer list synced from WeChat");
    for (const appId of retry) this.deps.host.credential(appId)?.retryNow("refresh token restored from the authorizer list");
    return result;
  }

  /** A call made with the component token: a stale one is compare-and-refreshed and the call retried once. */
  private withComponentToken<T>(endpoint: string, what: string, call: (token: string) => Promise<T>): Promise<T> {
    return fetchWithParent(this.deps.host.parent(this.componentAppId), { extraCall: () => undefined }, endpoint, what, call);
  }

  /** An automatic sync, no more often than syncMinIntervalMs (at once when stored refresh tokens went missing). */
  private scheduleSync(trigger: SyncTrigger): void {
    if (this.stopped || (this.syncTimer && trigger !== "missing")) return;
    if (this.syncTimer && trigger === "missing") this.deps.clock.clearTimeout(this.syncTimer);
    const wait = trigger === "missing" ? 0 : this.lastSyncAt + this.entry.syncMinIntervalMs - this.deps.clock.now();
    const run = () => {
      this.syncTimer = undefined;
      this.sync(trigger).catch((err: Error) => this.log.warn({ trigger, err: err.message }, "automatic authorizer sync failed"));
    };
    if (wait <= 0) run();
    else this.syncTimer = this.deps.clock.setTimeout(run, wait);
  }

  // Changes

  /** Asks WeChat to push a ticket now, no more often than startPushMinIntervalMs. */
  private requestPush(why: string): void {
    const now = this.deps.clock.now();
    if (this.stopped || now - this.lastStartPushAt < this.entry.startPushMinIntervalMs) return;
    this.lastStartPushAt = now;
    const secret = this.entry.secret.reveal();
    this.deps.client
      .request(START_PUSH_PATH, { body: { component_appid: this.componentAppId, component_secret: secret }, redact: [secret], errcodes: COMPONENT_TOKEN_ERRCODES })
      .then(
        () => this.log.info({ why }, "asked WeChat to push a component_verify_ticket"),
        (err: Error) => this.log.warn({ why, err: err.message }, "could not ask WeChat to push a component_verify_ticket"),
      );
  }

  private ticketArrived(): void {
    this.deps.host.credential(this.componentAppId)?.retryNow("a new component_verify_ticket arrived");
  }

  private componentTokenArrived(): void {
    if (this.syncWhenReady) {
      this.syncWhenReady = false;
      this.scheduleSync("none stored");
    }
    for (const appId of this.authorizers.keys()) {
      const c = this.deps.host.credential(appId);
      const reason = c?.lastError()?.reason;
      if (c && reason !== "NEEDS_REAUTHORIZATION") c.retryNow("the component token is back");
    }
  }

  private setStatus(appId: string, refreshToken: string, status: StoredAuthorizer["status"]): void {
    const held = this.authorizers.get(appId);
    if (held && held.refreshToken === refreshToken) this.authorizers.set(appId, { ...held, status });
    this.deps.store.updateAuthorizer(this.componentAppId, appId, refreshToken, { status, updatedAt: this.deps.clock.now() }).catch((err: Error) => {
      this.log.warn({ authorizer: appId, status, err: err.message }, "could not store the authorizer's status");
    });
  }

  /** Writes a rotated refresh token (compare-and-set on the one it replaced); rejects when the store could not take it. */
  private async saveRotation(appId: string): Promise<void> {
    const r = this.unsaved.get(appId);
    if (!r) return;
    const changed = await this.deps.store.updateAuthorizer(this.componentAppId, appId, r.previous, { refreshToken: r.next, status: "active", updatedAt: this.deps.clock.now() });
    if (this.unsaved.get(appId) === r) this.unsaved.delete(appId);
    if (!changed) this.log.info({ authorizer: appId }, "a rotated refresh token was not stored: the account authorized again (or left) meanwhile");
  }

  private async changed(change: PlatformChange): Promise<void> {
    if (this.stopped) return;
    if (change.what === "all" || change.what === "ticket") {
      const t = await this.deps.store.ticket(this.componentAppId);
      const newer = t && (!this.ticket || t.createdAt > this.ticket.createdAt || t.value !== this.ticket.value);
      if (t) this.ticket = t;
      if (change.what === "all") await this.reloadAll(false);
      else if (newer) this.ticketArrived();
      return;
    }
    const a = await this.deps.store.authorizer(this.componentAppId, change.appId);
    const before = this.authorizers.get(change.appId);
    if (a) this.authorizers.set(change.appId, a);
    else if (!this.unsavedAuth.has(change.appId)) this.authorizers.delete(change.appId);
    if (!before !== !this.authorizers.has(change.appId)) this.deps.host.authorizersChanged(this);
    // Another replica stored a new refresh token (an authorization, a sync): use it at once.
    if (a && before && a.refreshToken !== before.refreshToken) this.deps.host.credential(a.appId)?.retryNow("a new refresh token was stored");
  }

  /**
   * The mirror from the store. `authoritative` (after a sync with WeChat's
   * list): what the store lacks is dropped. Otherwise (a reconnect) authorizers
   * the store lost are kept and served from memory, and WeChat's list is read
   * at once to put their refresh tokens back: a store that lost its data must
   * not take the merchants down with it.
   */
  private async reloadAll(authoritative = true): Promise<void> {
    const all = await this.deps.store.authorizers(this.componentAppId);
    const before = new Set(this.authorizers.keys());
    const lost = [...this.authorizers.values()].filter((a) => !all.has(a.appId) && !this.unsavedAuth.has(a.appId));
    this.authorizers.clear();
    for (const [appId, a] of all) this.authorizers.set(appId, a);
    // Authorizations the store has not taken yet stay served.
    for (const [appId, a] of this.unsavedAuth) if (!all.has(appId)) this.authorizers.set(appId, a);
    if (!authoritative && lost.length > 0) {
      for (const a of lost) this.authorizers.set(a.appId, a);
      this.log.error({ authorizers: lost.map((a) => a.appId) }, "the store no longer holds these authorizers (data lost?): serving them from memory and re-reading WeChat's authorizer list");
      this.scheduleSync("missing");
    }
    const same = before.size === this.authorizers.size && [...this.authorizers.keys()].every((k) => before.has(k));
    if (!same) this.deps.host.authorizersChanged(this);
    if (this.loadFailed) {
      // The store was unreadable at start and answers now: empty, it is treated as a start with none stored.
      this.loadFailed = false;
      if (all.size === 0 && this.authorizers.size === 0) {
        this.log.info("open platform store readable again and holds no authorizer: WeChat's authorizer list is read once the component token is there");
        this.syncWhenReady = true;
        if (this.deps.host.credential(this.componentAppId)?.current()) this.componentTokenArrived();
      }
    }
  }

  /** One authorizer's mirror from the store. */
  private async reloadOne(appId: string): Promise<void> {
    const a = await this.deps.store.authorizer(this.componentAppId, appId);
    const had = this.authorizers.has(appId);
    if (a) this.authorizers.set(appId, a);
    else if (!this.unsavedAuth.has(appId)) this.authorizers.delete(appId);
    if (had !== this.authorizers.has(appId)) this.deps.host.authorizersChanged(this);
  }
}

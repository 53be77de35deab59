/**
 * The tenants of one pushed-ticket platform as this replica knows them (an
 * Open Platform's authorizers, a WeCom suite's installed corps): a mirror of
 * the platform store, plus what the store has not taken yet. A long-lived
 * secret WeChat handed out (a refresh token or a permanent code, from an
 * exchanged authorization code or a rotation) is never only in the store's
 * hands: if the write fails it is kept here, served, and written again on a
 * timer (AccountWrites) until it lands or the tenant leaves. Changes about
 * one tenant run in order.
 *
 * The family (OpenPlatform, SuitePlatform) decides what to do with pushes
 * and WeChat's answers; this book keeps the records consistent with the store.
 */
import type { Clock } from "../clock.js";
import { fingerprint } from "../fingerprint.js";
import type { Logger } from "../log.js";
import { AccountWrites } from "./account-writes.js";
import { TenantIndex, type AuthorizerPage } from "./tenant-index.js";
import type { AuthorizerStatus, PlatformStore, StoredAuthorizer } from "./store.js";
import type { PushOutcome } from "./receiver.js";

/** How a family names its tenants and their secret in the book's log lines. */
export interface TenantWords {
  /** "authorizer", "corp": in messages, and (as is) the log field naming the tenant. */
  readonly tenant: string;
  /** "refresh token", "permanent code". */
  readonly secret: string;
  /** Who hands the secret out: "WeChat", "WeCom". */
  readonly upstream: string;
  /** The log field of the secret's fingerprint: "refreshToken", "permanentCode". */
  readonly secretField: string;
  /** What an operator can do about secrets left unwritten at shutdown. */
  readonly unwrittenHint: string;
  /** What the family does when the store lost tenants it holds. */
  readonly lostHint: string;
}

/** The Open Platform's words. */
export const AUTHORIZER_WORDS: TenantWords = {
  tenant: "authorizer",
  secret: "refresh token",
  secretField: "refreshToken",
  upstream: "WeChat",
  unwrittenHint: "run `wxtoken platform --sync` after the restart if these accounts fail",
  lostHint: "re-reading WeChat's authorizer list",
};

export interface BookHooks {
  /** An account is held now (another replica's authorization, a sync, a reconnect): its credentials follow. */
  joined(appId: string): void;
  /** An account is no longer held: its credentials go. */
  left(appId: string): void;
  /** A stored refresh token went missing (the store lost data): WeChat's list should be read. */
  lost(): void;
  /** Another replica stored a new refresh token for the account: its credential should use it at once. */
  refreshTokenReplaced(appId: string): void;
}

export class TenantBook {
  /** The store's authorizers, mirrored (reloaded on every change a replica makes), and unsaved authorizations. */
  private readonly mirror = new TenantIndex();
  /** Per-account order of pushes and writes; writes the store refused, tried again. */
  private readonly writes: AccountWrites;
  /** Refresh tokens WeChat rotated that the store could not take yet: used, and written again. */
  private readonly unsavedRotations = new Map<string, { previous: string; next: string }>();
  /**
   * Authorizations exchanged whose record the store could not take yet: served
   * from memory and written again. Their codes are remembered, since WeChat's
   * retry of the push carries a code query_auth will not exchange twice.
   */
  private readonly unsavedAuth = new Map<string, StoredAuthorizer>();
  private readonly exchanged = new Map<string, string>();

  constructor(
    private readonly component: string,
    private readonly store: PlatformStore,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly hooks: BookHooks,
    private readonly words: TenantWords = AUTHORIZER_WORDS,
  ) {
    this.writes = new AccountWrites({ clock, log, field: words.tenant });
  }

  has(appId: string): boolean {
    return this.mirror.has(appId);
  }

  get(appId: string): StoredAuthorizer | undefined {
    return this.mirror.get(appId);
  }

  appIds(): string[] {
    return [...this.mirror.keys()];
  }

  get size(): number {
    return this.mirror.size;
  }

  /** A page of the mirror in appid order (see TenantIndex.page). */
  page(after: string | undefined, limit: number, status?: AuthorizerStatus): AuthorizerPage {
    return this.mirror.page(after, limit, status);
  }

  count(status?: AuthorizerStatus): number {
    return this.mirror.count(status);
  }

  /** Runs `fn` after everything queued for the account settled. */
  serial<T>(appId: string, fn: () => Promise<T>): Promise<T> {
    return this.writes.serial(appId, fn);
  }

  stop(): void {
    this.writes.stop();
  }

  /**
   * At shutdown, after the last refreshes landed: every write the store
   * refused is tried once more. A refresh token still unwritten is named in
   * the log; after the restart, WeChat's retried push or the authorizer list brings it back.
   */
  async flushWrites(): Promise<void> {
    const left = await this.writes.tryNow();
    if (left.length > 0) this.log.error({ [`${this.words.tenant}s`]: left }, `stopping with ${this.words.secret}s the store did not take: ${this.words.unwrittenHint}`);
  }

  // Refresh tokens

  /** The account's refresh token: one the store has not taken yet, else the stored one, else (the store lost it) the mirrored one. */
  async refreshTokenOf(appId: string): Promise<string | undefined> {
    const pending = this.unsavedAuth.get(appId)?.refreshToken ?? this.unsavedRotations.get(appId)?.next;
    if (pending !== undefined) return pending;
    const a = await this.store.authorizer(this.component, appId);
    if (a) {
      this.mirror.set(appId, a);
      return a.refreshToken;
    }
    // The store lost it (a Redis restarted empty): the copy in memory still works,
    // and WeChat's list puts it back in the store.
    const mirrored = this.mirror.get(appId)?.refreshToken;
    if (mirrored !== undefined) this.hooks.lost();
    return mirrored;
  }

  async rotated(appId: string, previous: string, next: string): Promise<void> {
    this.log.info({ [this.words.tenant]: appId, [this.words.secretField]: fingerprint(next) }, `${this.words.upstream} rotated the ${this.words.tenant}'s ${this.words.secret}`);
    const pendingAuth = this.unsavedAuth.get(appId);
    if (pendingAuth) {
      // The rotation of a refresh token an authorization since replaced: the authorization's wins.
      if (pendingAuth.refreshToken !== previous) return;
      // Written with the authorization, whose write is tried again.
      this.unsavedAuth.set(appId, { ...pendingAuth, refreshToken: next, updatedAt: this.clock.now() });
      this.mirror.set(appId, this.unsavedAuth.get(appId)!);
      this.retryAuthorization(appId);
      return;
    }
    this.unsavedRotations.set(appId, { previous, next });
    // A compare-and-set, safe beside the account's pushes without waiting for
    // them (this runs under the credential's refresh lock).
    await this.saveRotation(appId).catch((err: Error) => {
      this.log.error({ [this.words.tenant]: appId, err: err.message }, `could not store the rotated ${this.words.secret}; keeping it in memory and trying again`);
      this.writes.retry(appId, "rotated refresh token", () => this.saveRotation(appId));
    });
  }

  /** A new status for the record holding this refresh token (61023, or a refresh that worked again). */
  setStatus(appId: string, refreshToken: string, status: AuthorizerStatus): void {
    const held = this.mirror.get(appId);
    if (held && held.refreshToken === refreshToken) this.mirror.set(appId, { ...held, status });
    this.store.updateAuthorizer(this.component, appId, refreshToken, { status, updatedAt: this.clock.now() }).catch((err: Error) => {
      this.log.warn({ [this.words.tenant]: appId, status, err: err.message }, `could not store the ${this.words.tenant}'s status`);
    });
  }

  // Authorizations

  /** The account an authorization code was exchanged for, while its record is not stored yet. */
  exchangedFor(code: string): string | undefined {
    return this.exchanged.get(code);
  }

  /**
   * An authorization just exchanged: mirrored and announced before it is
   * written (the caller then calls write()). The change is not taken for
   * another replica's, the credential starts from the token just issued, and
   * that token reaches a shared store ahead of the authorizer, so a replica
   * that hears of it adopts the token instead of fetching another one.
   */
  accept(record: StoredAuthorizer, code: string, announce: () => void): void {
    this.mirror.set(record.appId, record);
    this.unsavedAuth.set(record.appId, record);
    this.exchanged.set(code, record.appId);
    this.unsavedRotations.delete(record.appId);
    this.writes.drop(record.appId);
    announce();
  }

  /**
   * Writes an exchanged authorization. When the store refuses, the refresh
   * token stays in memory (served, and written again on a timer) and this
   * rejects, so the push fails and WeChat retries it too.
   */
  async write(appId: string, why: string): Promise<PushOutcome> {
    const record = this.unsavedAuth.get(appId);
    if (!record) return "stored";
    let saved: boolean;
    try {
      saved = await this.store.saveAuthorizer(this.component, record);
    } catch (err) {
      this.log.error({ [this.words.tenant]: appId, err: (err as Error).message }, `could not store the ${this.words.tenant}'s ${this.words.secret}; serving it from memory and trying again`);
      this.retryAuthorization(appId);
      throw err;
    }
    const newer = this.unsavedAuth.get(appId) !== record;
    if (!newer) this.unsavedAuth.delete(appId);
    this.forgetCodes(appId);
    if (!saved) {
      this.unsavedAuth.delete(appId);
      this.log.warn({ [this.words.tenant]: appId, authorizedAt: new Date(record.authorizedAt).toISOString() }, "authorization older than a de-authorization or a later authorization the store holds; not served");
      await this.reloadOne(appId);
      return "ignored";
    }
    // A rotation changed the record while this write ran: the newer one is written too.
    if (newer && this.unsavedAuth.has(appId)) this.writes.retry(appId, "authorization", () => this.write(appId, "rotated meanwhile").then(() => undefined));
    this.log.info({ [this.words.tenant]: appId, why, [this.words.secretField]: fingerprint(record.refreshToken) }, `${this.words.tenant} stored`);
    return "stored";
  }

  /**
   * A de-authorization created at `at`: served no more before its stored
   * tokens (`credentialKeys`) go, so a refresh landing after this cannot
   * write them back (a removed credential stores nothing).
   */
  async deauthorize(appId: string, at: number, credentialKeys: readonly string[]): Promise<PushOutcome> {
    const pending = this.unsavedAuth.get(appId);
    if (!pending || pending.authorizedAt <= at) {
      this.unsavedAuth.delete(appId);
      this.forgetCodes(appId);
      this.unsavedRotations.delete(appId);
      this.writes.drop(appId);
    }
    const held = this.mirror.get(appId);
    const drop = held !== undefined && held.authorizedAt <= at && !this.unsavedAuth.has(appId);
    if (drop) {
      this.mirror.delete(appId);
      this.hooks.left(appId);
    }
    const outcome = await this.store.removeAuthorizer(this.component, appId, at, credentialKeys);
    if (outcome === "newer_held") {
      this.log.info({ [this.words.tenant]: appId }, "a de-authorization older than the account's latest authorization; ignored");
      // Another replica stored that authorization: it is served here too.
      if (drop) await this.reloadOne(appId);
      return "ignored";
    }
    const gone = outcome === "removed" || drop;
    this.log.info({ [this.words.tenant]: appId }, gone ? `${this.words.tenant} de-authorized: no longer served, ${this.words.secret} dropped` : "de-authorization of an account not held (remembered against late pushes)");
    return gone ? "stored" : "ignored";
  }

  // The mirror

  /** The store's authorizers at start. */
  loaded(all: ReadonlyMap<string, StoredAuthorizer>): void {
    for (const [appId, a] of all) this.mirror.set(appId, a);
  }

  /**
   * The mirror from the store; resolves with how many the store holds.
   * `authoritative` (after a sync with WeChat's list): what the store lacks is
   * dropped. Otherwise (a reconnect) authorizers the store lost are kept and
   * served from memory, and WeChat's list is asked for at once to put their
   * refresh tokens back: a store that lost its data must not take the
   * merchants down with it. Authorizations the store has not taken yet stay either way.
   */
  async reloadAll(authoritative: boolean): Promise<number> {
    const all = await this.store.authorizers(this.component);
    const lost = [...this.mirror.values()].filter((a) => !all.has(a.appId) && !this.unsavedAuth.has(a.appId));
    const next = new Map(all);
    for (const [appId, a] of this.unsavedAuth) if (!all.has(appId)) next.set(appId, a);
    if (!authoritative && lost.length > 0) {
      for (const a of lost) next.set(a.appId, a);
      const names = lost.slice(0, 20).map((a) => a.appId);
      this.log.error({ [`${this.words.tenant}s`]: names, count: lost.length }, `the store no longer holds these ${this.words.tenant}s (data lost?): serving them from memory and ${this.words.lostHint}`);
      this.hooks.lost();
    }
    // Only the accounts that came or went are announced: the others' credentials are untouched.
    for (const appId of [...this.mirror.keys()]) {
      if (next.has(appId)) continue;
      this.mirror.delete(appId);
      this.hooks.left(appId);
    }
    for (const [appId, a] of next) {
      const had = this.mirror.has(appId);
      if (this.mirror.get(appId) !== a) this.mirror.set(appId, a);
      if (!had) this.hooks.joined(appId);
    }
    return all.size;
  }

  /** One authorizer's mirror from the store (a change a replica published). */
  async reloadOne(appId: string): Promise<void> {
    const a = await this.store.authorizer(this.component, appId);
    const before = this.mirror.get(appId);
    this.reloaded(appId, before, a);
  }

  /** Several authorizers' mirror from the store at once (a batch a replica published, a sync's restorations). */
  async reloadSome(appIds: readonly string[]): Promise<void> {
    const found = await this.store.authorizersOf(this.component, appIds);
    for (const appId of appIds) this.reloaded(appId, this.mirror.get(appId), found.get(appId));
  }

  private reloaded(appId: string, before: StoredAuthorizer | undefined, a: StoredAuthorizer | undefined): void {
    if (a) this.mirror.set(appId, a);
    else if (!this.unsavedAuth.has(appId)) this.mirror.delete(appId);
    const held = this.mirror.has(appId);
    if (!before && held) this.hooks.joined(appId);
    else if (before && !held) this.hooks.left(appId);
    // Another replica stored a new refresh token (an authorization, a sync): used at once.
    if (a && before && a.refreshToken !== before.refreshToken) this.hooks.refreshTokenReplaced(appId);
  }

  private retryAuthorization(appId: string): void {
    if (!this.writes.has(appId)) this.writes.retry(appId, "authorization", () => this.write(appId, "retried write").then(() => undefined));
  }

  /** Writes a rotated refresh token (compare-and-set on the one it replaced); rejects when the store could not take it. */
  private async saveRotation(appId: string): Promise<void> {
    const r = this.unsavedRotations.get(appId);
    if (!r) return;
    const changed =
      (await this.store.updateAuthorizer(this.component, appId, r.previous, { refreshToken: r.next, status: "active", updatedAt: this.clock.now() })) ||
      (await this.restoreRotated(appId, r));
    if (this.unsavedRotations.get(appId) === r) this.unsavedRotations.delete(appId);
    if (!changed) this.log.info({ [this.words.tenant]: appId }, `a rotated ${this.words.secret} was not stored: the ${this.words.tenant} authorized again (or left) meanwhile`);
  }

  /**
   * The compare-and-set found no record while this book still holds the
   * account with the secret rotated from (the store lost it: a Redis that
   * restarted empty or evicted it, unnoticed yet): the rotated secret is the
   * one WeChat honours now (a reset permanent code retires the old one), so
   * the record goes back with it. Refused, as any authorization, when the
   * account left (its de-authorization is held) or authorized again meanwhile.
   */
  private async restoreRotated(appId: string, r: { previous: string; next: string }): Promise<boolean> {
    const held = this.mirror.get(appId);
    if (!held || held.refreshToken !== r.previous) return false;
    if (await this.store.authorizer(this.component, appId)) return false;
    const saved = await this.store.saveAuthorizer(this.component, { ...held, refreshToken: r.next, status: "active", updatedAt: this.clock.now() });
    if (saved) this.log.warn({ [this.words.tenant]: appId, [this.words.secretField]: fingerprint(r.next) }, `the store had lost the ${this.words.tenant}: written back with its rotated ${this.words.secret}`);
    return saved;
  }

  private forgetCodes(appId: string): void {
    for (const [code, owner] of this.exchanged) if (owner === appId) this.exchanged.delete(code);
  }
}

/**
 * The default local store: one SQLite database (better-sqlite3), one row per
 * record, so a change costs the same with 20 accounts or 100,000 (the JSON
 * snapshot of file-store.ts rewrites everything on every change). Write-ahead
 * log: nothing acknowledged is lost when the process is killed; platform
 * changes are also fsynced before they resolve (a power cut keeps them), token
 * saves are synced by the next of those or the next checkpoint. Files 0600,
 * directory 0700: it holds live tokens and refresh tokens.
 *
 * Tokens and quota counts are saved fire-and-forget: every save made in one
 * tick goes into one transaction (a failed one is tried again, on a timer
 * doubling up to 60 s). Platform changes (sqlite-platform.ts) are each
 * one transaction, committed before the call resolves.
 */
import { dirname, join } from "node:path";
import type { Logger } from "../log.js";
import { isStoredQuota, toStoredCredential, type StoredCredential, type StoredQuota, type TokenStore } from "../core/store.js";
import type { CodeOutcome, PendingCode, PlatformChange, PlatformStore, RemoveOutcome, RepairedTimes, StoredAuthorizer, StoredTicket } from "../platform/store.js";
import { parsed } from "./parsed.js";
import { counted, inTransaction, openDatabase, type Db, type Work } from "./sqlite-db.js";
import { makeDatabase } from "./sqlite-import.js";
import { SqlitePlatforms } from "./sqlite-platform.js";
import { WriteHealth } from "./write-health.js";

export interface SqliteStoreOptions {
  /** The database file; SQLite keeps `<path>-wal` and `<path>-shm` beside it while open. */
  path: string;
  log?: Logger;
  /** The file store's JSON snapshot to import when the database is made (default: tokens.json beside it). */
  importFrom?: string;
  /** The first wait before writing tokens again after a failed write (doubling up to 60 s). */
  firstRetryMs?: number;
}

export class SqliteStore implements TokenStore, PlatformStore {
  readonly kind = "sqlite";
  readonly path: string;
  /** Statements and transactions run so far (the tests count them). */
  readonly work: Work = { statements: 0, transactions: 0 };
  /** Down from a write the disk refused until one lands (gRPC health's wxtoken.v1.Store). */
  readonly health: WriteHealth;
  private open_: { db: Db; platforms: SqlitePlatforms; q: ReturnType<SqliteStore["statements"]> } | undefined;
  /** Saves not written yet: the next write takes them all. */
  private readonly tokens = new Map<string, StoredCredential>();
  private readonly quotas = new Map<string, StoredQuota>();
  private readonly listeners = new Set<(change: PlatformChange) => void>();
  private writeSoon: NodeJS.Immediate | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly firstRetryMs: number;
  private retryMs: number;
  private closed = false;

  constructor(private readonly opts: SqliteStoreOptions) {
    this.path = opts.path;
    this.firstRetryMs = opts.firstRetryMs ?? 1000;
    this.retryMs = this.firstRetryMs;
    this.health = new WriteHealth(opts.path, opts.log);
  }

  /** Opens the database (making it, and importing a snapshot, the first time); then every stored token. */
  async load(): Promise<Map<string, StoredCredential>> {
    const { q } = this.opened();
    this.writeNow();
    const out = new Map<string, StoredCredential>();
    for (const row of q.tokens.all()) {
      const t = parsed(row.record, toStoredCredential);
      if (t && t.key === row.key) out.set(row.key, t);
    }
    return out;
  }

  save(token: StoredCredential): void {
    this.tokens.set(token.key, { ...token });
    this.scheduleWrite();
  }

  quota(key: string): StoredQuota | undefined {
    const pending = this.quotas.get(key);
    if (pending) return { ...pending };
    const row = this.opened().q.quota.get(key);
    return row && parsed(row.record, (v) => (isStoredQuota(v) ? v : undefined));
  }

  saveQuota(key: string, quota: StoredQuota): void {
    this.quotas.set(key, { ...quota });
    this.scheduleWrite();
  }

  async flush(): Promise<void> {
    this.writeNow();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    // A failed write waiting for its retry gets one last try here.
    this.writeNow();
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    if (this.tokens.size + this.quotas.size > 0) {
      this.opts.log?.error({ path: this.path, tokens: [...this.tokens.keys()], quotas: [...this.quotas.keys()] }, "closing with token saves that could not be written");
    }
    // Closing checkpoints the log into the database and removes -wal and -shm.
    this.open_?.db.close();
  }

  // Platforms (Open Platforms, WeCom suites): sqlite-platform.ts. Async, so that a database that cannot be opened is a rejection, not a throw.

  async ticket(component: string): Promise<StoredTicket | undefined> {
    return this.platforms().ticket(component);
  }

  async saveTicket(component: string, ticket: StoredTicket): Promise<boolean> {
    return this.written(() => this.platforms().saveTicket(component, ticket));
  }

  async authorizers(component: string): Promise<Map<string, StoredAuthorizer>> {
    return this.platforms().authorizers(component);
  }

  async authorizer(component: string, appId: string): Promise<StoredAuthorizer | undefined> {
    return this.platforms().authorizer(component, appId);
  }

  async authorizersOf(component: string, appIds: readonly string[]): Promise<Map<string, StoredAuthorizer>> {
    return this.platforms().authorizersOf(component, appIds);
  }

  async saveAuthorizer(component: string, authorizer: StoredAuthorizer): Promise<boolean> {
    return this.written(() => this.platforms().saveAuthorizer(component, authorizer));
  }

  async saveAuthorizers(component: string, records: readonly StoredAuthorizer[]): Promise<boolean[]> {
    return this.written(() => this.platforms().saveAuthorizers(component, records));
  }

  async updateAuthorizer(...args: Parameters<PlatformStore["updateAuthorizer"]>): Promise<boolean> {
    return this.written(() => this.platforms().updateAuthorizer(...args));
  }

  async removeAuthorizer(...args: Parameters<PlatformStore["removeAuthorizer"]>): Promise<RemoveOutcome> {
    return this.written(() => this.platforms().removeAuthorizer(...args));
  }

  async repairFutureTimes(...args: Parameters<PlatformStore["repairFutureTimes"]>): Promise<RepairedTimes> {
    return this.platforms().repairFutureTimes(...args);
  }

  async claim(): Promise<boolean> {
    return this.platforms().claim();
  }

  async savePendingCode(component: string, pending: PendingCode): Promise<boolean> {
    return this.written(() => this.platforms().savePendingCode(component, pending));
  }

  async pendingCodes(component: string): Promise<PendingCode[]> {
    return this.platforms().pendingCodes(component);
  }

  async dropPendingCode(component: string, code: string): Promise<void> {
    return this.written(() => this.platforms().dropPendingCode(component, code));
  }

  async saveCodeOutcome(...args: Parameters<PlatformStore["saveCodeOutcome"]>): Promise<void> {
    return this.written(() => this.platforms().saveCodeOutcome(...args));
  }

  async codeOutcome(...args: Parameters<PlatformStore["codeOutcome"]>): Promise<CodeOutcome | undefined> {
    return this.platforms().codeOutcome(...args);
  }

  onPlatformChange(listener: (change: PlatformChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The open connection (opening it): for tools and for tests that inject a fault, such as a full disk. */
  connection(): Db {
    return this.opened().db;
  }

  /** A platform change: whether the disk took it is the store's health (a compare-and-set that refused is a write that worked). */
  private async written<T>(write: () => Promise<T>): Promise<T> {
    try {
      const result = await write();
      this.health.succeeded();
      return result;
    } catch (err) {
      this.health.failed();
      throw err;
    }
  }

  /** The platform records (opening the database on the first call, as load() does). */
  private platforms(): SqlitePlatforms {
    return this.opened().platforms;
  }

  private opened(): NonNullable<SqliteStore["open_"]> {
    if (this.closed) throw new Error(`the token database ${this.path} is closed`);
    if (!this.open_) {
      const opened = openDatabase(this.path, this.opts.log);
      try {
        if (opened.fresh) makeDatabase(opened, this.path, this.opts.importFrom ?? join(dirname(this.path), "tokens.json"), this.opts.log);
      } catch (err) {
        opened.db.close();
        throw err;
      }
      const { db } = opened;
      const platforms = new SqlitePlatforms(
        db,
        this.work,
        this.path,
        (keys) => keys.forEach((k) => this.tokens.delete(k)),
        (change) => [...this.listeners].forEach((l) => l(change)),
        this.opts.log,
      );
      this.open_ = { db, platforms, q: this.statements(db) };
    }
    return this.open_;
  }

  private statements(db: Db) {
    return {
      tokens: counted<[], { key: string; record: string }>(db, this.work, "SELECT key, record FROM tokens"),
      quota: counted<[string], { record: string }>(db, this.work, "SELECT record FROM quotas WHERE key = ?"),
      putToken: counted<[string, string]>(db, this.work, "INSERT OR REPLACE INTO tokens (key, record) VALUES (?, ?)"),
      putQuota: counted<[string, string]>(db, this.work, "INSERT OR REPLACE INTO quotas (key, record) VALUES (?, ?)"),
    };
  }

  private scheduleWrite(): void {
    if (this.closed) return;
    if (this.retryTimer) {
      clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
    }
    // Once per tick: every save made until then shares the transaction.
    this.writeSoon ??= setImmediate(() => this.writeNow());
  }

  /** Writes every pending save in one transaction; a failure keeps them for the retry. */
  private writeNow(): void {
    if (this.writeSoon) clearImmediate(this.writeSoon);
    this.writeSoon = undefined;
    if (this.closed || this.tokens.size + this.quotas.size === 0) return;
    try {
      const { db, q } = this.opened();
      // Without an fsync of its own: the write-ahead log survives a killed
      // process either way, and only a machine crash could lose these (each
      // costs one fetch); the next platform write (synchronous = FULL) or
      // checkpoint syncs them. With an fsync per write, a restore of 100,000
      // accounts would block the event loop a millisecond per token.
      db.pragma("synchronous = NORMAL");
      try {
        inTransaction(db, this.work, () => {
          for (const [key, t] of this.tokens) q.putToken.run(key, JSON.stringify(t));
          for (const [key, quota] of this.quotas) q.putQuota.run(key, JSON.stringify(quota));
        });
      } finally {
        db.pragma("synchronous = FULL");
      }
    } catch (err) {
      this.opts.log?.error({ path: this.path, err: (err as Error).message, retryInMs: this.retryMs }, "could not write tokens to the token database");
      this.health.failed();
      this.retryLater();
      return;
    }
    this.health.succeeded();
    // Synchronous: nothing was saved between the transaction and here.
    this.tokens.clear();
    this.quotas.clear();
    this.retryMs = this.firstRetryMs;
  }

  private retryLater(): void {
    if (this.closed || this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.writeNow();
    }, this.retryMs);
    this.retryTimer.unref();
    this.retryMs = Math.min(this.retryMs * 2, 60_000);
  }
}

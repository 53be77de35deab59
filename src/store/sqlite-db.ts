/**
 * The SQLite database of the local store: opened with its permissions, its
 * journal and its tables (one row per token, quota count, ticket,
 * authorizer, de-authorization and pending authorization code, so a change
 * writes its own row and no other). See sqlite-store.ts for the store itself.
 */
import Database from "better-sqlite3";
import { chmodSync, closeSync, existsSync, openSync, renameSync } from "node:fs";
import type { Logger } from "../log.js";
import { checkWritableDir, unwritable } from "./write-health.js";

export type Db = Database.Database;

/**
 * The schema's version, in meta: a database written by a newer wxtoken is
 * refused rather than misread. Additions an older wxtoken reads past (a
 * nullable column, a table it does not know) keep the version: they are
 * made at open (see addMissing), and a downgrade still opens the database.
 */
const FORMAT = "1";

/** Times are ms since the epoch; tokens and quota counts are the JSON records the other stores hold too. */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tokens (key TEXT PRIMARY KEY, record TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS quotas (key TEXT PRIMARY KEY, record TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tickets (
  component TEXT PRIMARY KEY, value TEXT NOT NULL, created_at INTEGER NOT NULL, received_at INTEGER NOT NULL, expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS authorizers (
  component TEXT NOT NULL, app_id TEXT NOT NULL, refresh_token TEXT NOT NULL, status TEXT NOT NULL,
  authorized_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, agents TEXT, PRIMARY KEY (component, app_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS deauthorized (
  component TEXT NOT NULL, app_id TEXT NOT NULL, at INTEGER NOT NULL, PRIMARY KEY (component, app_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS pending_codes (
  platform TEXT NOT NULL, code TEXT NOT NULL, info_type TEXT NOT NULL, received_at INTEGER NOT NULL,
  created_at INTEGER NOT NULL, tenant_id TEXT, PRIMARY KEY (platform, code)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS code_outcomes (
  platform TEXT NOT NULL, digest TEXT NOT NULL, record TEXT NOT NULL, until INTEGER NOT NULL, PRIMARY KEY (platform, digest)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS code_outcomes_until ON code_outcomes (until);
`;

/**
 * Columns added since the tables were first made, each nullable: a database
 * made before gets them at open. authorizers.agents: a WeCom suite tenant's
 * agentids (JSON), NULL for an Open Platform authorizer.
 */
const ADDED_COLUMNS: readonly { table: string; column: string; type: string }[] = [{ table: "authorizers", column: "agents", type: "TEXT" }];

/** SQLite's own files beside the database: the write-ahead log and its index. */
export const SIDE_FILES = ["-wal", "-shm"] as const;

export interface Opened {
  db: Db;
  /** True the first time: the tables were just made (the moment to import a JSON snapshot, in the same transaction). */
  fresh: boolean;
  /** Marks the database made; run in the transaction that fills it, so an interrupted import is done again at the next start. */
  markMade(): void;
}

/**
 * Opens (creating) the database: directory 0700, file 0600 before SQLite
 * first opens it (SQLite gives its -wal and -shm files the database's mode),
 * write-ahead log, commits fsynced (synchronous=FULL: a change is on disk
 * when the call returns; the token saves relax it for their own transaction). A file that is not a database is moved aside
 * and a new one made, as the file store does with an unreadable snapshot.
 */
export function openDatabase(path: string, log?: Logger): Opened {
  try {
    return openOnce(path);
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code !== "SQLITE_NOTADB" && code !== "SQLITE_CORRUPT") throw err;
    // Moved, not removed: it may hold refresh tokens an operator can recover.
    const aside = `${path}.unreadable-${Date.now()}`;
    for (const suffix of ["", ...SIDE_FILES]) if (existsSync(path + suffix)) renameSync(path + suffix, aside + suffix);
    log?.error({ path, movedTo: aside, err: (err as Error).message }, "token database unreadable; moved aside, starting without it");
    return openOnce(path);
  }
}

function openOnce(path: string): Opened {
  // SQLite makes its -wal and -shm files beside the database: the directory must take files too.
  checkWritableDir(path);
  try {
    closeSync(openSync(path, "a", 0o600));
  } catch (err) {
    throw unwritable(path, err);
  }
  // One made by an older umask or copied by hand is tightened.
  for (const suffix of ["", ...SIDE_FILES]) {
    try {
      chmodSync(path + suffix, 0o600);
    } catch {
      // Not there (the log and its index come and go).
    }
  }
  const db = new Database(path);
  try {
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = FULL");
    // The log grows with the largest transaction (a sync of many accounts); cut back after each checkpoint.
    db.pragma(`journal_size_limit = ${16 * 1024 * 1024}`);
    db.exec(SCHEMA);
    const format = (db.prepare("SELECT value FROM meta WHERE key = 'format'").get() as { value: string } | undefined)?.value;
    if (format !== undefined && format !== FORMAT) throw new Error(`${path}: unknown store format ${format} (written by a newer wxtoken?)`);
    addMissing(db);
    const markMade = () => void db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('format', ?)").run(FORMAT);
    return { db, fresh: format === undefined, markMade };
  } catch (err) {
    db.close();
    throw err;
  }
}

/** Adds the columns a database made by an earlier wxtoken lacks (one transaction; nothing when none is missing). */
function addMissing(db: Db): void {
  const missing = () =>
    ADDED_COLUMNS.filter(({ table, column }) => !(db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).some((c) => c.name === column));
  if (missing().length === 0) return;
  // Looked at again under the write lock: another process opening the same database may have added them meanwhile.
  db.transaction(() => {
    for (const { table, column, type } of missing()) db.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${type}`);
  }).immediate();
}

/** What a store's statements did, to show that a change costs the same at any size. */
export interface Work {
  statements: number;
  transactions: number;
}

/** A prepared statement whose runs are counted in `work`. */
export function counted<P extends unknown[], R = unknown>(db: Db, work: Work, sql: string) {
  const stmt = db.prepare<P, R>(sql);
  return {
    run: (...params: P) => (work.statements++, stmt.run(...params)),
    get: (...params: P) => (work.statements++, stmt.get(...params)),
    all: (...params: P) => (work.statements++, stmt.all(...params)),
  };
}

/** Runs fn in one write transaction (taken at once, so a compare-and-set holds against other connections too). */
export function inTransaction<T>(db: Db, work: Work, fn: () => T): T {
  work.transactions++;
  return db.transaction(fn).immediate();
}

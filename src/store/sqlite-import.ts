/**
 * The one-time move from the file store to the SQLite store: at the SQLite
 * store's first start, the JSON snapshot the file store wrote (tokens, quota
 * counts, each platform's ticket, authorizers with their agents,
 * de-authorizations and pending authorization codes) is
 * imported in the transaction that makes the database, then renamed
 * `<name>.migrated-<ms>`. Renamed, never removed: it holds refresh tokens,
 * and an operator going back to `type: "file"` can rename it back.
 */
import { readFileSync, renameSync } from "node:fs";
import type { Logger } from "../log.js";
import { parseSnapshot } from "./file-store.js";
import { PlatformRecords } from "./platform-records.js";
import type { Db, Opened } from "./sqlite-db.js";
import { agentsColumn } from "./sqlite-platform.js";

export interface Imported {
  tokens: number;
  quotas: number;
  /** Per platform id: whether its ticket came, how many authorizers, de-authorizations and pending codes. */
  platforms: Record<string, { ticket: boolean; authorizers: number; deauthorized: number; pending: number }>;
}

/**
 * Makes a fresh database, filled from the snapshot at `from` when there is
 * one: one transaction, so a start interrupted midway imports again next
 * time. Afterwards the snapshot is renamed. An unreadable snapshot is left
 * where it is (and said so): the database starts empty.
 */
export function makeDatabase(opened: Opened, dbPath: string, from: string, log?: Logger): Imported | undefined {
  let text: string | undefined;
  try {
    text = readFileSync(from, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  let snapshot: ReturnType<typeof parseSnapshot> | undefined;
  if (text !== undefined) {
    try {
      snapshot = parseSnapshot(text);
    } catch (err) {
      log?.error({ from, to: dbPath, err: (err as Error).message }, "token snapshot unreadable: not migrated, left where it is; the database starts empty");
    }
  }
  const imported = opened.db.transaction(() => {
    opened.markMade();
    return snapshot && fill(opened.db, snapshot);
  }).immediate();
  if (!imported) return undefined;
  const movedTo = `${from}.migrated-${Date.now()}`;
  try {
    renameSync(from, movedTo);
    log?.info({ from, to: dbPath, movedTo, ...imported }, "token snapshot migrated into the database");
  } catch (err) {
    // Imported all the same; left in place, it is not read again (the database is made).
    log?.warn({ from, to: dbPath, ...imported, err: (err as Error).message }, "token snapshot migrated into the database but could not be renamed");
  }
  return imported;
}

function fill(db: Db, snapshot: ReturnType<typeof parseSnapshot>): Imported {
  const putToken = db.prepare<[string, string]>("INSERT OR REPLACE INTO tokens (key, record) VALUES (?, ?)");
  const putQuota = db.prepare<[string, string]>("INSERT OR REPLACE INTO quotas (key, record) VALUES (?, ?)");
  const putTicket = db.prepare<[string, string, number, number, number]>(
    "INSERT OR REPLACE INTO tickets (component, value, created_at, received_at, expires_at) VALUES (?, ?, ?, ?, ?)",
  );
  const putAuthorizer = db.prepare<[string, string, string, string, number, number, string | null]>(
    "INSERT OR REPLACE INTO authorizers (component, app_id, refresh_token, status, authorized_at, updated_at, agents) VALUES (?, ?, ?, ?, ?, ?, ?)",
  );
  const putPending = db.prepare<[string, string, string, number, number, string | null]>(
    "INSERT OR REPLACE INTO pending_codes (platform, code, info_type, received_at, created_at, tenant_id) VALUES (?, ?, ?, ?, ?, ?)",
  );
  const putDeauthorized = db.prepare<[string, string, number]>("INSERT OR REPLACE INTO deauthorized (component, app_id, at) VALUES (?, ?, ?)");

  for (const [key, t] of snapshot.tokens) putToken.run(key, JSON.stringify(t));
  for (const [key, q] of snapshot.quotas) putQuota.run(key, JSON.stringify(q));
  // Through PlatformRecords: the same checks of every record as the file store's own load.
  const records = new PlatformRecords();
  records.load(snapshot.platforms);
  const platforms: Imported["platforms"] = {};
  for (const [component, p] of Object.entries(records.toJSON())) {
    if (p.ticket) putTicket.run(component, p.ticket.value, p.ticket.createdAt, p.ticket.receivedAt, p.ticket.expiresAt);
    const authorizers = Object.values(p.authorizers);
    for (const a of authorizers) putAuthorizer.run(component, a.appId, a.refreshToken, a.status, a.authorizedAt, a.updatedAt, agentsColumn(a.agents));
    const deauthorized = Object.entries(p.deauthorized ?? {});
    for (const [appId, at] of deauthorized) putDeauthorized.run(component, appId, at);
    const pending = Object.values(p.pending ?? {});
    for (const c of pending) putPending.run(component, c.code, c.infoType, c.receivedAt, c.createdAt, c.tenantId ?? null);
    platforms[component] = { ticket: p.ticket !== undefined, authorizers: authorizers.length, deauthorized: deauthorized.length, pending: pending.length };
  }
  return { tokens: snapshot.tokens.size, quotas: snapshot.quotas.size, platforms };
}

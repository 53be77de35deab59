/**
 * The platform records of the SQLite store (Open Platforms and WeCom
 * suites), with the same rules as PlatformRecords (platform-records.ts) and
 * the Redis scripts: an older ticket never replaces a newer one; updates
 * compare the secret; an authorization older than a de-authorization or than
 * the held one is refused; a de-authorization drops the account's stored
 * tokens; a pending code already held is not saved again. Each change
 * is one transaction touching only its own rows, committed (fsynced) before
 * the call resolves; a failed one rolls back whole and tells nobody.
 */
import type { Logger } from "../log.js";
import {
  repairedAnything,
  toAgents,
  toCodeOutcome,
  type AuthorizerChange,
  type CodeOutcome,
  type AuthorizerStatus,
  type PendingCode,
  type PlatformChange,
  type PlatformStore,
  type RemoveOutcome,
  type RepairedTimes,
  type StoredAuthorizer,
  type StoredTicket,
} from "../platform/store.js";
import { parsed } from "./parsed.js";
import { counted, inTransaction, type Db, type Work } from "./sqlite-db.js";

interface TicketRow {
  value: string;
  created_at: number;
  received_at: number;
  expires_at: number;
}

interface AuthorizerRow {
  app_id: string;
  refresh_token: string;
  status: string;
  authorized_at: number;
  updated_at: number;
  /** JSON array of agentids, or NULL. */
  agents: string | null;
}

interface PendingRow {
  code: string;
  info_type: string;
  received_at: number;
  created_at: number;
  tenant_id: string | null;
}

const AUTHORIZER_COLUMNS = "app_id, refresh_token, status, authorized_at, updated_at, agents";
const PENDING_COLUMNS = "code, info_type, received_at, created_at, tenant_id";

function statements(db: Db, work: Work) {
  const c = <P extends unknown[], R = unknown>(sql: string) => counted<P, R>(db, work, sql);
  return {
    ticket: c<[string], TicketRow>("SELECT value, created_at, received_at, expires_at FROM tickets WHERE component = ?"),
    putTicket: c<[string, string, number, number, number]>(
      "INSERT OR REPLACE INTO tickets (component, value, created_at, received_at, expires_at) VALUES (?, ?, ?, ?, ?)",
    ),
    authorizers: c<[string], AuthorizerRow>(`SELECT ${AUTHORIZER_COLUMNS} FROM authorizers WHERE component = ?`),
    authorizer: c<[string, string], AuthorizerRow>(`SELECT ${AUTHORIZER_COLUMNS} FROM authorizers WHERE component = ? AND app_id = ?`),
    putAuthorizer: c<[string, string, string, string, number, number, string | null]>(
      `INSERT OR REPLACE INTO authorizers (component, ${AUTHORIZER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ),
    dropAuthorizer: c<[string, string]>("DELETE FROM authorizers WHERE component = ? AND app_id = ?"),
    deauthorizedAt: c<[string, string], { at: number }>("SELECT at FROM deauthorized WHERE component = ? AND app_id = ?"),
    putDeauthorized: c<[string, string, number]>("INSERT OR REPLACE INTO deauthorized (component, app_id, at) VALUES (?, ?, ?)"),
    clearDeauthorized: c<[string, string]>("DELETE FROM deauthorized WHERE component = ? AND app_id = ?"),
    dropToken: c<[string]>("DELETE FROM tokens WHERE key = ?"),
    // Held codes are few (pushed, then exchanged within seconds): the platform's all at once.
    pending: c<[string], PendingRow>(`SELECT ${PENDING_COLUMNS} FROM pending_codes WHERE platform = ? ORDER BY received_at, created_at, code`),
    putPending: c<[string, string, string, number, number, string | null]>(
      `INSERT OR IGNORE INTO pending_codes (platform, ${PENDING_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)`,
    ),
    dropPending: c<[string, string]>("DELETE FROM pending_codes WHERE platform = ? AND code = ?"),
    outcome: c<[string, string, number], { record: string }>("SELECT record FROM code_outcomes WHERE platform = ? AND digest = ? AND until > ?"),
    putOutcome: c<[string, string, string, number]>("INSERT OR REPLACE INTO code_outcomes (platform, digest, record, until) VALUES (?, ?, ?, ?)"),
    dropOutcomes: c<[number]>("DELETE FROM code_outcomes WHERE until <= ?"),
    // The repair after a forged or mis-clocked push time (run at load, so a scan of the component is fine).
    futureTicket: c<[number, string, number]>("UPDATE tickets SET created_at = ? WHERE component = ? AND created_at > ?"),
    futureAuthorizers: c<[string, number, number], { app_id: string }>(
      "SELECT app_id FROM authorizers WHERE component = ? AND (authorized_at > ? OR updated_at > ?)",
    ),
    repairAuthorizers: c<[number, number, number, number, string, number, number]>(
      `UPDATE authorizers SET authorized_at = CASE WHEN authorized_at > ? THEN ? ELSE authorized_at END,
         updated_at = CASE WHEN updated_at > ? THEN ? ELSE updated_at END
       WHERE component = ? AND (authorized_at > ? OR updated_at > ?)`,
    ),
    futureDeauthorized: c<[string, number], { app_id: string }>("SELECT app_id FROM deauthorized WHERE component = ? AND at > ?"),
    repairDeauthorized: c<[number, string, number]>("UPDATE deauthorized SET at = ? WHERE component = ? AND at > ?"),
  };
}

function toAuthorizer(r: AuthorizerRow): StoredAuthorizer {
  const agents = r.agents === null ? undefined : agentsOf(r.agents);
  return {
    appId: r.app_id,
    refreshToken: r.refresh_token,
    status: r.status as AuthorizerStatus,
    authorizedAt: r.authorized_at,
    updatedAt: r.updated_at,
    ...(agents ? { agents } : {}),
  };
}

/** The agents column read back (a column that is not a JSON array of non-empty strings reads as none). */
function agentsOf(text: string): string[] | undefined {
  try {
    return toAgents(JSON.parse(text));
  } catch {
    return undefined;
  }
}

/** The agents column written: JSON, or NULL when there are none known. */
export function agentsColumn(agents: readonly string[] | undefined): string | null {
  return agents ? JSON.stringify(agents) : null;
}

function toPending(r: PendingRow): PendingCode {
  return {
    code: r.code,
    infoType: r.info_type,
    receivedAt: r.received_at,
    createdAt: r.created_at,
    ...(r.tenant_id !== null ? { tenantId: r.tenant_id } : {}),
  };
}

export class SqlitePlatforms implements Omit<PlatformStore, "onPlatformChange"> {
  private readonly q: ReturnType<typeof statements>;

  constructor(
    private readonly db: Db,
    private readonly work: Work,
    private readonly path: string,
    /** After a commit that dropped stored tokens: forget unwritten saves of them too. */
    private readonly tokensDropped: (keys: readonly string[]) => void,
    /** Tells the store's listeners of a committed change. */
    private readonly tell: (change: PlatformChange) => void,
    private readonly log?: Logger,
  ) {
    this.q = statements(db, work);
  }

  async ticket(component: string): Promise<StoredTicket | undefined> {
    const t = this.q.ticket.get(component);
    return t && { value: t.value, createdAt: t.created_at, receivedAt: t.received_at, expiresAt: t.expires_at };
  }

  saveTicket(component: string, ticket: StoredTicket): Promise<boolean> {
    return this.change(
      () => {
        const held = this.q.ticket.get(component);
        if (held && held.created_at > ticket.createdAt) return false;
        this.q.putTicket.run(component, ticket.value, ticket.createdAt, ticket.receivedAt, ticket.expiresAt);
        return true;
      },
      (saved) => (saved ? { component, what: "ticket" } : undefined),
    );
  }

  async authorizers(component: string): Promise<Map<string, StoredAuthorizer>> {
    return new Map(this.q.authorizers.all(component).map((r) => [r.app_id, toAuthorizer(r)]));
  }

  async authorizer(component: string, appId: string): Promise<StoredAuthorizer | undefined> {
    const r = this.q.authorizer.get(component, appId);
    return r && toAuthorizer(r);
  }

  async authorizersOf(component: string, appIds: readonly string[]): Promise<Map<string, StoredAuthorizer>> {
    // One read transaction: every record from the same moment.
    return this.db.transaction(() => {
      const out = new Map<string, StoredAuthorizer>();
      for (const appId of new Set(appIds)) {
        const r = this.q.authorizer.get(component, appId);
        if (r) out.set(appId, toAuthorizer(r));
      }
      return out;
    })();
  }

  saveAuthorizer(component: string, authorizer: StoredAuthorizer): Promise<boolean> {
    return this.change(
      () => this.put(component, authorizer),
      (saved) => (saved ? { component, what: "authorizer", appId: authorizer.appId } : undefined),
    );
  }

  saveAuthorizers(component: string, records: readonly StoredAuthorizer[]): Promise<boolean[]> {
    return this.change(
      () => records.map((a) => this.put(component, a)),
      (saved): PlatformChange | undefined => {
        const appIds = [...new Set(records.filter((_, i) => saved[i]).map((a) => a.appId))];
        return appIds.length > 0 ? { component, what: "authorizers", appIds } : undefined;
      },
    );
  }

  updateAuthorizer(component: string, appId: string, expected: string, change: AuthorizerChange): Promise<boolean> {
    return this.change(
      () => {
        const held = this.q.authorizer.get(component, appId);
        if (!held || held.refresh_token !== expected) return false;
        this.q.putAuthorizer.run(
          component,
          appId,
          change.refreshToken ?? held.refresh_token,
          change.status ?? held.status,
          held.authorized_at,
          change.updatedAt,
          change.agents ? agentsColumn(change.agents) : held.agents,
        );
        return true;
      },
      (changed) => (changed ? { component, what: "authorizer", appId } : undefined),
    );
  }

  removeAuthorizer(component: string, appId: string, at: number, credentialKeys: readonly string[]): Promise<RemoveOutcome> {
    return this.change(
      (): RemoveOutcome => {
        const held = this.q.authorizer.get(component, appId);
        if (held && held.authorized_at > at) return "newer_held";
        const gone = this.q.deauthorizedAt.get(component, appId)?.at;
        if (gone === undefined || gone < at) this.q.putDeauthorized.run(component, appId, at);
        for (const key of credentialKeys) this.q.dropToken.run(key);
        if (held) this.q.dropAuthorizer.run(component, appId);
        return held ? "removed" : "not_held";
      },
      (outcome) => {
        if (outcome === "newer_held") return undefined;
        this.tokensDropped(credentialKeys);
        return { component, what: "authorizer", appId };
      },
    );
  }

  repairFutureTimes(component: string, notAfter: number, now: number): Promise<RepairedTimes> {
    return this.change(
      (): RepairedTimes => {
        const ticket = this.q.futureTicket.run(now, component, notAfter).changes > 0;
        const authorized = this.q.futureAuthorizers.all(component, notAfter, notAfter).map((r) => r.app_id);
        if (authorized.length > 0) this.q.repairAuthorizers.run(notAfter, now, notAfter, now, component, notAfter, notAfter);
        const deauthorized = this.q.futureDeauthorized.all(component, notAfter).map((r) => r.app_id);
        if (deauthorized.length > 0) this.q.repairDeauthorized.run(now, component, notAfter);
        return { ticket, authorized, deauthorized };
      },
      (repaired) => (repairedAnything(repaired) ? { component, what: "all" } : undefined),
    );
  }

  /** One process: its own rate limit decides. */
  async claim(): Promise<boolean> {
    return true;
  }

  saveCodeOutcome(component: string, digest: string, outcome: CodeOutcome, now: number): Promise<void> {
    return this.change(
      () => {
        this.q.dropOutcomes.run(now);
        this.q.putOutcome.run(component, digest, JSON.stringify(outcome), outcome.until);
      },
      () => undefined,
    );
  }

  async codeOutcome(component: string, digest: string, now: number): Promise<CodeOutcome | undefined> {
    const row = this.q.outcome.get(component, digest, now);
    return parsed(row?.record, toCodeOutcome);
  }

  savePendingCode(component: string, pending: PendingCode): Promise<boolean> {
    return this.change(
      () =>
        this.q.putPending.run(component, pending.code, pending.infoType, pending.receivedAt, pending.createdAt, pending.tenantId ?? null).changes === 1,
      () => undefined,
    );
  }

  async pendingCodes(component: string): Promise<PendingCode[]> {
    return this.q.pending.all(component).map(toPending);
  }

  dropPendingCode(component: string, code: string): Promise<void> {
    return this.change(
      () => void this.q.dropPending.run(component, code),
      () => undefined,
    );
  }

  /** saveAuthorizer's rules, inside a transaction: false (nothing written) when the store knows of something later. */
  private put(component: string, a: StoredAuthorizer): boolean {
    const gone = this.q.deauthorizedAt.get(component, a.appId)?.at;
    // The same second (CreateTime has no more): the de-authorization wins.
    if (gone !== undefined && gone >= a.authorizedAt) return false;
    const held = this.q.authorizer.get(component, a.appId);
    if (held && held.authorized_at > a.authorizedAt) return false;
    this.q.putAuthorizer.run(component, a.appId, a.refreshToken, a.status, a.authorizedAt, a.updatedAt, agentsColumn(a.agents));
    // A stored authorization's own time now guards against older pushes.
    if (gone !== undefined) this.q.clearDeauthorized.run(component, a.appId);
    return true;
  }

  /**
   * Runs one change in one transaction, after the caller's synchronous part
   * (as the other stores do), then tells the listeners what it changed.
   * Changes run in the order they were asked for.
   */
  private async change<T>(apply: () => T, note: (result: T) => PlatformChange | undefined): Promise<T> {
    await undefined;
    let result: T;
    try {
      result = inTransaction(this.db, this.work, apply);
    } catch (err) {
      const code = (err as { code?: string }).code ?? (err as Error).message;
      this.log?.error({ path: this.path, err: (err as Error).message }, "could not write to the token database");
      throw new Error(`could not write ${this.path}: ${code}`);
    }
    const n = note(result);
    if (n) this.tell(n);
    return result;
  }
}

/**
 * The platform records of the memory and file stores: per platform id (a
 * component appid or a suite id), the newest ticket, the tenants
 * (authorizers) and the pending authorization codes, with the PlatformStore
 * rules (an older ticket never replaces a newer one; updates compare the
 * secret; an authorization older than a de-authorization or than the held
 * one is refused; a code already held is not saved again). Changes run one at a time: each is applied, then
 * committed (the file store resolves once the snapshot holding it is
 * fsynced; a rejected commit takes the change back, exactly, since no other
 * change ran meanwhile), then told to the listeners.
 */
import type {
  AuthorizerChange,
  CodeOutcome,
  PendingCode,
  PlatformChange,
  PlatformStore,
  RemoveOutcome,
  RepairedTimes,
  StoredAuthorizer,
  StoredTicket,
} from "../platform/store.js";
import { byReceipt, repairedAnything, toPendingCode, toStoredAuthorizer, toStoredTicket } from "../platform/store.js";

interface Platform {
  ticket?: StoredTicket;
  authorizers: Map<string, StoredAuthorizer>;
  /** appid -> the CreateTime (ms) of its latest de-authorization; dropped once a later authorization is held. */
  deauthorized: Map<string, number>;
  /** code -> the pushed authorization code waiting for its exchange. */
  pending: Map<string, PendingCode>;
}

export type PlatformsJson = Record<
  string,
  {
    ticket?: StoredTicket;
    authorizers: Record<string, StoredAuthorizer>;
    deauthorized?: Record<string, number>;
    /** code -> PendingCode; absent when none is held (a snapshot of an Open Platform keeps its shape). */
    pending?: Record<string, PendingCode>;
  }
>;

/** A copy a caller may change without changing what is held (its agents too). */
function copied(a: StoredAuthorizer): StoredAuthorizer {
  return a.agents ? { ...a, agents: [...a.agents] } : { ...a };
}

export class PlatformRecords implements PlatformStore {
  private readonly platforms = new Map<string, Platform>();
  private readonly listeners = new Set<(change: PlatformChange) => void>();
  /** "<component> <digest>" -> a redirect code's outcome; in memory only (one process: a restart forgets). */
  private readonly outcomes = new Map<string, CodeOutcome>();
  /** The change running now: the next one starts after it settled. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    /** Makes the changes applied so far durable; rejects when it could not. */
    private readonly commit: () => Promise<void> = async () => undefined,
    /** Resolves once the records were loaded (the file store reads its snapshot first). */
    private readonly ready: () => Promise<unknown> = async () => undefined,
    /** Drops stored tokens (a de-authorized account's), before the commit that removes the account. */
    private readonly dropTokens: (keys: readonly string[]) => void = () => undefined,
  ) {}

  async ticket(component: string): Promise<StoredTicket | undefined> {
    await this.ready();
    const t = this.platforms.get(component)?.ticket;
    return t && { ...t };
  }

  saveTicket(component: string, ticket: StoredTicket): Promise<boolean> {
    return this.exclusive(async () => {
      const p = this.of(component);
      const before = p.ticket;
      if (before && before.createdAt > ticket.createdAt) return false;
      p.ticket = { ...ticket };
      await this.committed({ component, what: "ticket" }, () => {
        if (before) p.ticket = before;
        else delete p.ticket;
      });
      return true;
    });
  }

  async authorizers(component: string): Promise<Map<string, StoredAuthorizer>> {
    await this.ready();
    return new Map([...(this.platforms.get(component)?.authorizers ?? [])].map(([k, a]) => [k, copied(a)]));
  }

  async authorizer(component: string, appId: string): Promise<StoredAuthorizer | undefined> {
    await this.ready();
    const a = this.platforms.get(component)?.authorizers.get(appId);
    return a && copied(a);
  }

  async authorizersOf(component: string, appIds: readonly string[]): Promise<Map<string, StoredAuthorizer>> {
    await this.ready();
    const held = this.platforms.get(component)?.authorizers;
    const out = new Map<string, StoredAuthorizer>();
    for (const appId of appIds) {
      const a = held?.get(appId);
      if (a) out.set(appId, copied(a));
    }
    return out;
  }

  saveAuthorizer(component: string, authorizer: StoredAuthorizer): Promise<boolean> {
    return this.exclusive(async () => {
      const p = this.of(component);
      const gone = p.deauthorized.get(authorizer.appId);
      if (olderThanKnown(p, authorizer)) return false;
      await this.replace(component, authorizer.appId, copied(authorizer), gone !== undefined ? () => p.deauthorized.set(authorizer.appId, gone) : undefined);
      return true;
    });
  }

  /** saveAuthorizer's rules for each, in order; one commit (one durable snapshot) and one change for the batch, all taken back if it fails. */
  saveAuthorizers(component: string, records: readonly StoredAuthorizer[]): Promise<boolean[]> {
    return this.exclusive(async () => {
      const p = this.of(component);
      const undo: (() => void)[] = [];
      const saved = records.map((a) => {
        if (olderThanKnown(p, a)) return false;
        const gone = p.deauthorized.get(a.appId);
        const held = p.authorizers.get(a.appId);
        undo.push(() => {
          if (held) p.authorizers.set(a.appId, held);
          else p.authorizers.delete(a.appId);
          if (gone !== undefined) p.deauthorized.set(a.appId, gone);
        });
        p.authorizers.set(a.appId, copied(a));
        p.deauthorized.delete(a.appId);
        return true;
      });
      const appIds = [...new Set(records.filter((_, i) => saved[i]).map((a) => a.appId))];
      if (appIds.length === 0) return saved;
      // Undone last first: an account saved twice in the batch gets back what it held before the first.
      await this.committed({ component, what: "authorizers", appIds }, () => undo.reverse().forEach((u) => u()));
      return saved;
    });
  }

  updateAuthorizer(component: string, appId: string, expected: string, change: AuthorizerChange): Promise<boolean> {
    return this.exclusive(async () => {
      const held = this.platforms.get(component)?.authorizers.get(appId);
      if (!held || held.refreshToken !== expected) return false;
      const agents = change.agents ?? held.agents;
      await this.replace(component, appId, {
        ...held,
        refreshToken: change.refreshToken ?? held.refreshToken,
        status: change.status ?? held.status,
        updatedAt: change.updatedAt,
        ...(agents ? { agents: [...agents] } : {}),
      });
      return true;
    });
  }

  savePendingCode(component: string, pending: PendingCode): Promise<boolean> {
    return this.exclusive(async () => {
      const p = this.of(component);
      if (p.pending.has(pending.code)) return false;
      p.pending.set(pending.code, { ...pending });
      await this.committedQuietly(() => p.pending.delete(pending.code));
      return true;
    });
  }

  async pendingCodes(component: string): Promise<PendingCode[]> {
    await this.ready();
    return [...(this.platforms.get(component)?.pending.values() ?? [])].map((c) => ({ ...c })).sort(byReceipt);
  }

  dropPendingCode(component: string, code: string): Promise<void> {
    return this.exclusive(async () => {
      const p = this.platforms.get(component);
      const held = p?.pending.get(code);
      if (!p || !held) return;
      p.pending.delete(code);
      await this.committedQuietly(() => p.pending.set(code, held));
    });
  }

  async saveCodeOutcome(component: string, digest: string, outcome: CodeOutcome, now: number): Promise<void> {
    // Kept in the order saved, which is nearly the order of `until` (now + a code's life): the expired ones lead.
    for (const [key, o] of this.outcomes) {
      if (o.until > now) break;
      this.outcomes.delete(key);
    }
    this.outcomes.delete(`${component} ${digest}`);
    this.outcomes.set(`${component} ${digest}`, { ...outcome });
  }

  async codeOutcome(component: string, digest: string, now: number): Promise<CodeOutcome | undefined> {
    const o = this.outcomes.get(`${component} ${digest}`);
    return o && o.until > now ? { ...o } : undefined;
  }

  removeAuthorizer(component: string, appId: string, at: number, credentialKeys: readonly string[]): Promise<RemoveOutcome> {
    return this.exclusive(async () => {
      const p = this.of(component);
      const held = p.authorizers.get(appId);
      if (held && held.authorizedAt > at) return "newer_held";
      const gone = p.deauthorized.get(appId);
      p.deauthorized.set(appId, Math.max(at, gone ?? at));
      this.dropTokens(credentialKeys);
      await this.replace(component, appId, undefined, () => {
        if (gone === undefined) p.deauthorized.delete(appId);
        else p.deauthorized.set(appId, gone);
      });
      return held ? "removed" : "not_held";
    });
  }

  repairFutureTimes(component: string, notAfter: number, now: number): Promise<RepairedTimes> {
    return this.exclusive(async () => {
      const repaired: RepairedTimes = { ticket: false, authorized: [], deauthorized: [] };
      const p = this.platforms.get(component);
      if (!p) return repaired;
      if (p.ticket && p.ticket.createdAt > notAfter) {
        p.ticket = { ...p.ticket, createdAt: now };
        repaired.ticket = true;
      }
      for (const [appId, a] of p.authorizers) {
        if (a.authorizedAt <= notAfter && a.updatedAt <= notAfter) continue;
        const back = (t: number) => (t > notAfter ? now : t);
        p.authorizers.set(appId, { ...a, authorizedAt: back(a.authorizedAt), updatedAt: back(a.updatedAt) });
        repaired.authorized.push(appId);
      }
      for (const [appId, at] of p.deauthorized) {
        if (at <= notAfter) continue;
        p.deauthorized.set(appId, now);
        repaired.deauthorized.push(appId);
      }
      if (!repairedAnything(repaired)) return repaired;
      // Not taken back if the write fails: the repair is right either way, and the file store writes it with its next snapshot.
      await this.commit();
      for (const l of [...this.listeners]) l({ component, what: "all" });
      return repaired;
    });
  }

  /** One process: its own rate limit decides. */
  async claim(): Promise<boolean> {
    return true;
  }

  onPlatformChange(listener: (change: PlatformChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  toJSON(): PlatformsJson {
    const out: PlatformsJson = {};
    for (const [component, p] of this.platforms) {
      out[component] = {
        ...(p.ticket ? { ticket: p.ticket } : {}),
        authorizers: Object.fromEntries(p.authorizers),
        ...(p.deauthorized.size > 0 ? { deauthorized: Object.fromEntries(p.deauthorized) } : {}),
        ...(p.pending.size > 0 ? { pending: Object.fromEntries(p.pending) } : {}),
      };
    }
    return out;
  }

  /** What a snapshot held; malformed entries are skipped. */
  load(json: unknown): void {
    if (typeof json !== "object" || json === null) return;
    for (const [component, raw] of Object.entries(json as Record<string, unknown>)) {
      if (typeof raw !== "object" || raw === null) continue;
      const r = raw as { ticket?: unknown; authorizers?: unknown; deauthorized?: unknown; pending?: unknown };
      const p = this.of(component);
      const ticket = toStoredTicket(r.ticket);
      if (ticket) p.ticket = ticket;
      for (const [appId, a] of Object.entries((r.authorizers ?? {}) as Record<string, unknown>)) {
        const stored = toStoredAuthorizer(a);
        if (stored && stored.appId === appId) p.authorizers.set(appId, stored);
      }
      for (const [appId, at] of Object.entries((r.deauthorized ?? {}) as Record<string, unknown>)) {
        if (typeof at === "number" && Number.isFinite(at)) p.deauthorized.set(appId, at);
      }
      for (const [code, c] of Object.entries((r.pending ?? {}) as Record<string, unknown>)) {
        const stored = toPendingCode(c);
        if (stored && stored.code === code) p.pending.set(code, stored);
      }
    }
  }

  private of(component: string): Platform {
    let p = this.platforms.get(component);
    if (!p) this.platforms.set(component, (p = { authorizers: new Map(), deauthorized: new Map(), pending: new Map() }));
    return p;
  }

  /**
   * Sets (or, undefined, removes) an authorizer, commits, tells the
   * listeners. A stored authorization clears the account's de-authorization
   * (its own time now guards against older pushes); `undoMore` takes back
   * what else the change did.
   */
  private async replace(component: string, appId: string, next: StoredAuthorizer | undefined, undoMore?: () => void): Promise<void> {
    const p = this.of(component);
    const before = p.authorizers.get(appId);
    if (next) {
      p.authorizers.set(appId, next);
      p.deauthorized.delete(appId);
    } else {
      p.authorizers.delete(appId);
    }
    await this.committed({ component, what: "authorizer", appId }, () => {
      if (before) p.authorizers.set(appId, before);
      else p.authorizers.delete(appId);
      undoMore?.();
    });
  }

  /** Runs one change at a time (after the records were loaded). */
  private exclusive<T>(change: () => Promise<T>): Promise<T> {
    const run = this.queue.then(() => this.ready()).then(change);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Commits a change no listener is told of (a pending code); one that could not be made durable is taken back and the commit's error thrown. */
  private async committedQuietly(undo: () => void): Promise<void> {
    try {
      await this.commit();
    } catch (err) {
      undo();
      throw err;
    }
  }

  /** Commits; a change that could not be made durable is taken back (it was not stored) and the commit's error thrown. */
  private async committed(change: PlatformChange, undo: () => void): Promise<void> {
    await this.committedQuietly(undo);
    for (const l of [...this.listeners]) l(change);
  }
}

/** An authorization the platform already knows something later than (saveAuthorizer refuses it). */
function olderThanKnown(p: Platform, a: StoredAuthorizer): boolean {
  const gone = p.deauthorized.get(a.appId);
  const held = p.authorizers.get(a.appId);
  // The same second (CreateTime has no more): the de-authorization wins.
  return (gone !== undefined && gone >= a.authorizedAt) || (held !== undefined && held.authorizedAt > a.authorizedAt);
}

/**
 * A store whose platform data another PlatformStore holds (PlatformRecords
 * for the memory and file stores, RedisPlatforms for Redis): the PlatformStore
 * methods, handed on to it.
 */
export abstract class RecordsBackedStore implements PlatformStore {
  protected abstract readonly platforms: PlatformStore;

  ticket(component: string): Promise<StoredTicket | undefined> {
    return this.platforms.ticket(component);
  }

  saveTicket(component: string, ticket: StoredTicket): Promise<boolean> {
    return this.platforms.saveTicket(component, ticket);
  }

  authorizers(component: string): Promise<Map<string, StoredAuthorizer>> {
    return this.platforms.authorizers(component);
  }

  authorizer(component: string, appId: string): Promise<StoredAuthorizer | undefined> {
    return this.platforms.authorizer(component, appId);
  }

  authorizersOf(component: string, appIds: readonly string[]): Promise<Map<string, StoredAuthorizer>> {
    return this.platforms.authorizersOf(component, appIds);
  }

  saveAuthorizer(component: string, authorizer: StoredAuthorizer): Promise<boolean> {
    return this.platforms.saveAuthorizer(component, authorizer);
  }

  saveAuthorizers(component: string, records: readonly StoredAuthorizer[]): Promise<boolean[]> {
    return this.platforms.saveAuthorizers(component, records);
  }

  updateAuthorizer(...args: Parameters<PlatformStore["updateAuthorizer"]>): Promise<boolean> {
    return this.platforms.updateAuthorizer(...args);
  }

  removeAuthorizer(...args: Parameters<PlatformStore["removeAuthorizer"]>): Promise<RemoveOutcome> {
    return this.platforms.removeAuthorizer(...args);
  }

  claim(...args: Parameters<PlatformStore["claim"]>): Promise<boolean> {
    return this.platforms.claim(...args);
  }

  repairFutureTimes(...args: Parameters<PlatformStore["repairFutureTimes"]>): Promise<RepairedTimes> {
    return this.platforms.repairFutureTimes(...args);
  }

  savePendingCode(component: string, pending: PendingCode): Promise<boolean> {
    return this.platforms.savePendingCode(component, pending);
  }

  pendingCodes(component: string): Promise<PendingCode[]> {
    return this.platforms.pendingCodes(component);
  }

  dropPendingCode(component: string, code: string): Promise<void> {
    return this.platforms.dropPendingCode(component, code);
  }

  saveCodeOutcome(...args: Parameters<PlatformStore["saveCodeOutcome"]>): Promise<void> {
    return this.platforms.saveCodeOutcome(...args);
  }

  codeOutcome(...args: Parameters<PlatformStore["codeOutcome"]>): Promise<CodeOutcome | undefined> {
    return this.platforms.codeOutcome(...args);
  }

  onPlatformChange(listener: (change: PlatformChange) => void): () => void {
    return this.platforms.onPlatformChange(listener);
  }
}

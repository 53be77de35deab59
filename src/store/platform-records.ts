/**
 * The Open Platform records of the memory and file stores: per component
 * appid, the newest ticket and the authorizers, with the PlatformStore rules
 * (an older ticket never replaces a newer one; updates compare the refresh
 * token). Each change is applied, then committed (the file store resolves
 * once the snapshot holding it is fsynced; a rejected commit takes the change
 * back), then told to the listeners.
 */
import type { AuthorizerStatus, PlatformChange, PlatformStore, StoredAuthorizer, StoredTicket } from "../openplatform/store.js";
import { toStoredAuthorizer, toStoredTicket } from "../openplatform/store.js";

interface Platform {
  ticket?: StoredTicket;
  authorizers: Map<string, StoredAuthorizer>;
}

export type PlatformsJson = Record<string, { ticket?: StoredTicket; authorizers: Record<string, StoredAuthorizer> }>;

export class PlatformRecords implements PlatformStore {
  private readonly platforms = new Map<string, Platform>();
  private readonly listeners = new Set<(change: PlatformChange) => void>();

  constructor(
    /** Makes the changes applied so far durable; rejects when it could not. */
    private readonly commit: () => Promise<void> = async () => undefined,
    /** Resolves once the records were loaded (the file store reads its snapshot first). */
    private readonly ready: () => Promise<unknown> = async () => undefined,
  ) {}

  async ticket(component: string): Promise<StoredTicket | undefined> {
    await this.ready();
    const t = this.platforms.get(component)?.ticket;
    return t && { ...t };
  }

  async saveTicket(component: string, ticket: StoredTicket): Promise<boolean> {
    await this.ready();
    const p = this.of(component);
    const before = p.ticket;
    if (before && before.createdAt > ticket.createdAt) return false;
    p.ticket = { ...ticket };
    await this.committed({ component, what: "ticket" }, () => {
      if (before) p.ticket = before;
      else delete p.ticket;
    });
    return true;
  }

  async authorizers(component: string): Promise<Map<string, StoredAuthorizer>> {
    await this.ready();
    return new Map([...(this.platforms.get(component)?.authorizers ?? [])].map(([k, a]) => [k, { ...a }]));
  }

  async authorizer(component: string, appId: string): Promise<StoredAuthorizer | undefined> {
    await this.ready();
    const a = this.platforms.get(component)?.authorizers.get(appId);
    return a && { ...a };
  }

  async saveAuthorizer(component: string, authorizer: StoredAuthorizer): Promise<void> {
    await this.ready();
    await this.replace(component, authorizer.appId, { ...authorizer });
  }

  async updateAuthorizer(component: string, appId: string, expected: string, change: { refreshToken?: string; status?: AuthorizerStatus; updatedAt: number }): Promise<boolean> {
    await this.ready();
    const held = this.platforms.get(component)?.authorizers.get(appId);
    if (!held || held.refreshToken !== expected) return false;
    await this.replace(component, appId, {
      ...held,
      refreshToken: change.refreshToken ?? held.refreshToken,
      status: change.status ?? held.status,
      updatedAt: change.updatedAt,
    });
    return true;
  }

  async removeAuthorizer(component: string, appId: string): Promise<boolean> {
    await this.ready();
    if (!this.platforms.get(component)?.authorizers.has(appId)) return false;
    await this.replace(component, appId, undefined);
    return true;
  }

  onPlatformChange(listener: (change: PlatformChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  toJSON(): PlatformsJson {
    const out: PlatformsJson = {};
    for (const [component, p] of this.platforms) {
      out[component] = { ...(p.ticket ? { ticket: p.ticket } : {}), authorizers: Object.fromEntries(p.authorizers) };
    }
    return out;
  }

  /** What a snapshot held; malformed entries are skipped. */
  load(json: unknown): void {
    if (typeof json !== "object" || json === null) return;
    for (const [component, raw] of Object.entries(json as Record<string, unknown>)) {
      if (typeof raw !== "object" || raw === null) continue;
      const r = raw as { ticket?: unknown; authorizers?: unknown };
      const p = this.of(component);
      const ticket = toStoredTicket(r.ticket);
      if (ticket) p.ticket = ticket;
      for (const [appId, a] of Object.entries((r.authorizers ?? {}) as Record<string, unknown>)) {
        const stored = toStoredAuthorizer(a);
        if (stored && stored.appId === appId) p.authorizers.set(appId, stored);
      }
    }
  }

  private of(component: string): Platform {
    let p = this.platforms.get(component);
    if (!p) this.platforms.set(component, (p = { authorizers: new Map() }));
    return p;
  }

  /** Sets (or, undefined, removes) an authorizer, commits, tells the listeners. */
  private async replace(component: string, appId: string, next: StoredAuthorizer | undefined): Promise<void> {
    const authorizers = this.of(component).authorizers;
    const before = authorizers.get(appId);
    if (next) authorizers.set(appId, next);
    else authorizers.delete(appId);
    await this.committed({ component, what: "authorizer", appId }, () => {
      if (before) authorizers.set(appId, before);
      else authorizers.delete(appId);
    });
  }

  /** Commits; a change that could not be made durable is taken back (it was not stored) and the commit's error thrown. */
  private async committed(change: PlatformChange, undo: () => void): Promise<void> {
    try {
      await this.commit();
    } catch (err) {
      undo();
      throw err;
    }
    for (const l of [...this.listeners]) l(change);
  }
}

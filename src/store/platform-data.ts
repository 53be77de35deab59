/**
 * The Open Platform data of the memory and file stores: per component appid,
 * the newest ticket and the authorizers, with the PlatformStore rules
 * (an older ticket never replaces a newer one; updates compare the refresh
 * token). The file store makes each change durable before it resolves.
 */
import type { AuthorizerStatus, PlatformChange, StoredAuthorizer, StoredTicket } from "../openplatform/store.js";
import { toStoredAuthorizer, toStoredTicket } from "../openplatform/store.js";

interface Platform {
  ticket?: StoredTicket;
  authorizers: Map<string, StoredAuthorizer>;
}

export type PlatformsJson = Record<string, { ticket?: StoredTicket; authorizers: Record<string, StoredAuthorizer> }>;

export class PlatformData {
  private readonly platforms = new Map<string, Platform>();
  private readonly listeners = new Set<(change: PlatformChange) => void>();

  private of(component: string): Platform {
    let p = this.platforms.get(component);
    if (!p) this.platforms.set(component, (p = { authorizers: new Map() }));
    return p;
  }

  ticket(component: string): StoredTicket | undefined {
    const t = this.platforms.get(component)?.ticket;
    return t && { ...t };
  }

  /** Whether it was taken (not older than the held one). */
  saveTicket(component: string, ticket: StoredTicket): boolean {
    const p = this.of(component);
    if (p.ticket && p.ticket.createdAt > ticket.createdAt) return false;
    p.ticket = { ...ticket };
    return true;
  }

  authorizers(component: string): Map<string, StoredAuthorizer> {
    return new Map([...(this.platforms.get(component)?.authorizers ?? [])].map(([k, a]) => [k, { ...a }]));
  }

  authorizer(component: string, appId: string): StoredAuthorizer | undefined {
    const a = this.platforms.get(component)?.authorizers.get(appId);
    return a && { ...a };
  }

  saveAuthorizer(component: string, a: StoredAuthorizer): void {
    this.of(component).authorizers.set(a.appId, { ...a });
  }

  updateAuthorizer(component: string, appId: string, expected: string, change: { refreshToken?: string; status?: AuthorizerStatus; updatedAt: number }): boolean {
    const held = this.platforms.get(component)?.authorizers.get(appId);
    if (!held || held.refreshToken !== expected) return false;
    this.of(component).authorizers.set(appId, {
      ...held,
      refreshToken: change.refreshToken ?? held.refreshToken,
      status: change.status ?? held.status,
      updatedAt: change.updatedAt,
    });
    return true;
  }

  removeAuthorizer(component: string, appId: string): boolean {
    return this.platforms.get(component)?.authorizers.delete(appId) ?? false;
  }

  /** Puts back what was held before a change that could not be stored. */
  restoreTicket(component: string, ticket: StoredTicket | undefined): void {
    const p = this.of(component);
    if (ticket) p.ticket = { ...ticket };
    else delete p.ticket;
  }

  restoreAuthorizer(component: string, appId: string, authorizer: StoredAuthorizer | undefined): void {
    const p = this.of(component);
    if (authorizer) p.authorizers.set(appId, { ...authorizer });
    else p.authorizers.delete(appId);
  }

  onChange(listener: (change: PlatformChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Tells the listeners (after the change is durable). */
  changed(change: PlatformChange): void {
    for (const l of [...this.listeners]) l(change);
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
}

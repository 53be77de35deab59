import type { StoredQuota, StoredCredential, TokenStore } from "../core/store.js";
import type { PlatformChange, PlatformStore, StoredAuthorizer, StoredTicket } from "../openplatform/store.js";
import { PlatformRecords } from "./platform-records.js";

/** Keeps tokens (and Open Platform tickets and refresh tokens) for the life of the process only: a restart fetches new ones. */
export class MemoryStore implements TokenStore, PlatformStore {
  readonly kind = "memory";
  private readonly tokens = new Map<string, StoredCredential>();
  private readonly quotas = new Map<string, StoredQuota>();
  private readonly platforms = new PlatformRecords(undefined, undefined, (keys) => {
    for (const key of keys) this.tokens.delete(key);
  });

  async load(): Promise<Map<string, StoredCredential>> {
    return new Map(this.tokens);
  }

  save(token: StoredCredential): void {
    this.tokens.set(token.key, { ...token });
  }

  quota(appId: string): StoredQuota | undefined {
    return this.quotas.get(appId);
  }

  saveQuota(appId: string, quota: StoredQuota): void {
    this.quotas.set(appId, { ...quota });
  }

  async flush(): Promise<void> {}

  async close(): Promise<void> {}

  // Open Platform records: in memory, told to this store's own listeners.
  ticket = (component: string) => this.platforms.ticket(component);
  saveTicket = (component: string, ticket: StoredTicket) => this.platforms.saveTicket(component, ticket);
  authorizers = (component: string) => this.platforms.authorizers(component);
  authorizer = (component: string, appId: string) => this.platforms.authorizer(component, appId);
  saveAuthorizer = (component: string, authorizer: StoredAuthorizer) => this.platforms.saveAuthorizer(component, authorizer);
  updateAuthorizer: PlatformStore["updateAuthorizer"] = (...args) => this.platforms.updateAuthorizer(...args);
  removeAuthorizer: PlatformStore["removeAuthorizer"] = (...args) => this.platforms.removeAuthorizer(...args);
  claim: PlatformStore["claim"] = () => this.platforms.claim();
  onPlatformChange = (listener: (change: PlatformChange) => void) => this.platforms.onPlatformChange(listener);
}

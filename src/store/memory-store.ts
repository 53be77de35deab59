import type { StoredQuota, StoredCredential, TokenStore } from "../core/store.js";
import type { AuthorizerStatus, PlatformChange, PlatformStore, StoredAuthorizer, StoredTicket } from "../openplatform/store.js";
import { PlatformData } from "./platform-data.js";

/** Keeps tokens (and Open Platform tickets and refresh tokens) for the life of the process only: a restart fetches new ones. */
export class MemoryStore implements TokenStore, PlatformStore {
  readonly kind = "memory";
  private readonly tokens = new Map<string, StoredCredential>();
  private readonly quotas = new Map<string, StoredQuota>();
  private readonly platforms = new PlatformData();

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

  async ticket(component: string): Promise<StoredTicket | undefined> {
    return this.platforms.ticket(component);
  }

  async saveTicket(component: string, ticket: StoredTicket): Promise<boolean> {
    const saved = this.platforms.saveTicket(component, ticket);
    if (saved) this.platforms.changed({ component, what: "ticket" });
    return saved;
  }

  async authorizers(component: string): Promise<Map<string, StoredAuthorizer>> {
    return this.platforms.authorizers(component);
  }

  async authorizer(component: string, appId: string): Promise<StoredAuthorizer | undefined> {
    return this.platforms.authorizer(component, appId);
  }

  async saveAuthorizer(component: string, authorizer: StoredAuthorizer): Promise<void> {
    this.platforms.saveAuthorizer(component, authorizer);
    this.platforms.changed({ component, what: "authorizer", appId: authorizer.appId });
  }

  async updateAuthorizer(component: string, appId: string, expected: string, change: { refreshToken?: string; status?: AuthorizerStatus; updatedAt: number }): Promise<boolean> {
    const done = this.platforms.updateAuthorizer(component, appId, expected, change);
    if (done) this.platforms.changed({ component, what: "authorizer", appId });
    return done;
  }

  async removeAuthorizer(component: string, appId: string): Promise<boolean> {
    const done = this.platforms.removeAuthorizer(component, appId);
    if (done) this.platforms.changed({ component, what: "authorizer", appId });
    return done;
  }

  onPlatformChange(listener: (change: PlatformChange) => void): () => void {
    return this.platforms.onChange(listener);
  }
}

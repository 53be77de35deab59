import type { StoredQuota, StoredCredential, TokenStore } from "../core/store.js";

/** Keeps tokens for the life of the process only: a restart fetches new ones. */
export class MemoryStore implements TokenStore {
  readonly kind = "memory";
  private readonly tokens = new Map<string, StoredCredential>();
  private readonly quotas = new Map<string, StoredQuota>();

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
}

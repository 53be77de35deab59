import type { StoredQuota, StoredCredential, TokenStore } from "../core/store.js";
import { PlatformRecords, RecordsBackedStore } from "./platform-records.js";

/** Keeps tokens (and Open Platform tickets and refresh tokens) for the life of the process only: a restart fetches new ones. */
export class MemoryStore extends RecordsBackedStore implements TokenStore {
  readonly kind = "memory";
  private readonly tokens = new Map<string, StoredCredential>();
  private readonly quotas = new Map<string, StoredQuota>();
  /** Open Platform records: in memory, told to this store's own listeners. */
  protected readonly platforms = new PlatformRecords(undefined, undefined, (keys) => {
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
}

import type { StoredToken, TokenStore } from "./store.js";

/** Keeps tokens for the life of the process only: a restart fetches new ones. */
export class MemoryStore implements TokenStore {
  readonly kind = "memory";
  private readonly tokens = new Map<string, StoredToken>();

  async load(): Promise<Map<string, StoredToken>> {
    return new Map(this.tokens);
  }

  save(token: StoredToken): void {
    this.tokens.set(token.appId, { ...token });
  }

  async flush(): Promise<void> {}

  async close(): Promise<void> {}
}

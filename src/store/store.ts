/** What survives a restart: enough to serve a still-valid token without asking WeChat. */
export interface StoredToken {
  appId: string;
  accessToken: string;
  version: number;
  /** ms since the epoch */
  obtainedAt: number;
  /** ms since the epoch */
  expiresAt: number;
}

/** Upstream calls counted on one quota day (see src/token/quota-guard.ts). */
export interface StoredQuota {
  day: number;
  used: number;
  forced: number;
}

/**
 * Where tokens are kept across restarts. `save` is fire-and-forget (writes are
 * coalesced and never block serving); `flush` waits until everything saved so
 * far is durable.
 */
export interface TokenStore {
  readonly kind: string;
  load(): Promise<Map<string, StoredToken>>;
  save(token: StoredToken): void;
  /** The quota counts load() found for an app. */
  quota(appId: string): StoredQuota | undefined;
  saveQuota(appId: string, quota: StoredQuota): void;
  flush(): Promise<void>;
  close(): Promise<void>;
}

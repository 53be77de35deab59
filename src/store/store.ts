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
  /** When a ForceRefresh last went upstream (ms since the epoch), for the minimum interval across replicas. */
  lastForcedAt?: number;
}

export function isStoredToken(t: unknown): t is StoredToken {
  if (typeof t !== "object" || t === null) return false;
  const o = t as Record<string, unknown>;
  return (
    typeof o.appId === "string" &&
    typeof o.accessToken === "string" &&
    o.accessToken.length > 0 &&
    Number.isSafeInteger(o.version) &&
    Number.isFinite(o.obtainedAt) &&
    Number.isFinite(o.expiresAt)
  );
}

export function isStoredQuota(q: unknown): q is StoredQuota {
  if (typeof q !== "object" || q === null) return false;
  const o = q as Record<string, unknown>;
  return (
    Number.isFinite(o.day) &&
    Number.isSafeInteger(o.used) &&
    Number.isSafeInteger(o.forced) &&
    (o.lastForcedAt === undefined || Number.isFinite(o.lastForcedAt))
  );
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

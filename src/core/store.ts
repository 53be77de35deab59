/** What survives a restart: enough to serve a still-valid credential without asking WeChat. */
export interface StoredCredential {
  /** credentialKey() of its CredentialId. */
  key: string;
  /** The token or ticket. */
  value: string;
  version: number;
  /** ms since the epoch */
  obtainedAt: number;
  /** ms since the epoch */
  expiresAt: number;
  /**
   * When the holder plans to ask again (ms since the epoch), kept when it is
   * later than a fresh plan would be: after WeChat answered the same value,
   * the next attempt is at its expiry, for every replica and after a restart.
   */
  refreshAt?: number;
  /** Replicas on Redis: the id of the replica that obtained the value (status only). */
  by?: string;
}

/** Upstream calls counted in one quota window (see src/core/quota-guard.ts). */
export interface StoredQuota {
  /** Start of the window (a China quota day, or an hour), ms since the epoch. */
  day: number;
  used: number;
  forced: number;
  /** When a ForceRefresh last went upstream (ms since the epoch), for the minimum interval across replicas. */
  lastForcedAt?: number;
}

/**
 * A stored credential read back (file snapshot, Redis), or undefined when it
 * is not one. Snapshots written before credential kinds existed name the
 * fields appId / accessToken; they load as the app's access_token.
 */
export function toStoredCredential(t: unknown): StoredCredential | undefined {
  if (typeof t !== "object" || t === null) return undefined;
  const o = t as Record<string, unknown>;
  const key = o.key ?? o.appId;
  const value = o.value ?? o.accessToken;
  const ok =
    typeof key === "string" &&
    typeof value === "string" &&
    value.length > 0 &&
    Number.isSafeInteger(o.version) &&
    Number.isFinite(o.obtainedAt) &&
    Number.isFinite(o.expiresAt);
  if (!ok) return undefined;
  const stored: StoredCredential = { key, value, version: o.version as number, obtainedAt: o.obtainedAt as number, expiresAt: o.expiresAt as number };
  if (Number.isFinite(o.refreshAt)) stored.refreshAt = o.refreshAt as number;
  if (typeof o.by === "string" && o.by.length <= 256) stored.by = o.by;
  return stored;
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
 * Where credentials are kept across restarts, by credential key. `save` is fire-and-forget (writes are
 * coalesced and never block serving); `flush` waits until everything saved so
 * far is durable.
 */
export interface TokenStore {
  readonly kind: string;
  load(): Promise<Map<string, StoredCredential>>;
  save(credential: StoredCredential): void;
  /** The quota counts load() found under a key (a credential key, or a shared window such as "hour:ww1"). */
  quota(key: string): StoredQuota | undefined;
  saveQuota(key: string, quota: StoredQuota): void;
  flush(): Promise<void>;
  close(): Promise<void>;
  /** Whether its writes land (absent: a store that cannot fail, the memory store). */
  readonly health?: StoreHealth;
}

/**
 * Whether a store takes writes: gRPC health's `wxtoken.v1.Store`, and what a
 * readiness check can ask (WxTokenServer.storeHealthy).
 */
export interface StoreHealth {
  /** False from a write the store refused (a full disk, a read-only directory, Redis unreachable) until one lands. */
  healthy(): boolean;
  /** Told of each change; returns an unsubscribe. */
  onChange(listener: (healthy: boolean) => void): () => void;
}

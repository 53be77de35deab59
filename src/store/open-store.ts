import type { LoadedConfig } from "../config/load.js";
import type { Logger } from "../log.js";
import { FileStore } from "./file-store.js";
import { MemoryStore } from "./memory-store.js";
import { RedisStore } from "./redis-store.js";
import type { TokenStore } from "./store.js";

/** The store the config names. */
export function openStore(loaded: LoadedConfig, log: Logger): TokenStore {
  const { store, upstream } = loaded.config;
  switch (store.type) {
    case "file":
      return new FileStore(loaded.storePath!, log);
    case "memory":
      return new MemoryStore();
    case "redis":
      return new RedisStore({
        url: store.url,
        sentinels: store.sentinels,
        masterName: store.masterName,
        db: store.db,
        username: store.username,
        password: loaded.redisPassword?.reveal(),
        sentinelUsername: store.sentinelUsername,
        sentinelPassword: loaded.redisSentinelPassword?.reveal(),
        tls: store.tls && { caFile: loaded.redisCaFile, serverName: store.tls.serverName },
        keyPrefix: store.keyPrefix,
        // The lock must outlive the longest upstream call it covers.
        lockLeaseMs: Math.max(store.lockLeaseSeconds * 1000, upstream.timeoutMs + 5000),
        log,
      });
  }
}

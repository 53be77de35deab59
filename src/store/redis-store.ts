/**
 * Tokens, quota counts and the refresh lock in Redis, shared by several
 * wxtoken replicas (see src/core/coordinator.ts for why). The appsecret never
 * goes to Redis; the tokens do, so protect it like the tokens themselves
 * (AUTH/ACL, rediss:// across a network).
 *
 * Keys (prefix "wxtoken:" by default), by credential key (src/core/credential-id.ts):
 * token:<key> (JSON StoredCredential), quota:<key> (JSON StoredQuota; also
 * quota:hour:<corp>[/<agent>] for WeCom's hourly ticket limits), lock:<key> (a
 * lease id, with a TTL), and the channel tokens, on which each new value is published.
 * Platforms (Open Platforms and WeCom suites, by platform id):
 * platform:<component>:ticket, platform:<component>:authorizers (a hash,
 * appid or corpid -> JSON StoredAuthorizer, no TTL),
 * platform:<component>:deauthorized (a hash, appid -> ms of its latest
 * de-authorization), platform:<component>:pending (a hash, code -> JSON
 * PendingCode, no TTL), platform:<component>:claim:<what>, and the channel
 * platform. replicas: a sorted set, replica id -> its latest heartbeat.
 *
 * This class composes the parts, each in a file of its own: the connections
 * (redis-clients.ts), tokens (redis-tokens.ts), quota counts
 * (redis-quota.ts), the lock (redis-lock.ts), the platforms' records
 * (redis-platform.ts), the change channels (redis-pubsub.ts) and the live
 * replicas (replica-registry.ts).
 */
import type { Clock } from "../clock.js";
import type { Coordinator, SharedState } from "../core/coordinator.js";
import { toStoredCredential, type StoredCredential, type StoredQuota, type TokenStore } from "../core/store.js";
import { parsed } from "./parsed.js";
import { RedisClients, type RedisClientsOptions } from "./redis-clients.js";
import { RedisLock, type RedisLockOptions } from "./redis-lock.js";
import { RedisPlatforms } from "./redis-platform.js";
import { subscribeChannels } from "./redis-pubsub.js";
import { asQuota, RedisQuotas } from "./redis-quota.js";
import { RedisTokens } from "./redis-tokens.js";
import { ReplicaRegistry } from "./replica-registry.js";
import { RecordsBackedStore } from "./platform-records.js";
import type { WriteHealth } from "./write-health.js";

export interface RedisStoreOptions extends RedisClientsOptions, RedisLockOptions {
  /** This replica in the cluster's live set (see replicas()): its id (default hostname-pid-random), lease (default 15 s), clock. */
  replicas?: { id?: string; leaseMs?: number; clock?: Clock };
}

/** The Open Platform methods (PlatformStore) are RecordsBackedStore's, handed on to redis-platform.ts. */
export class RedisStore extends RecordsBackedStore implements TokenStore, Coordinator {
  readonly kind = "redis";
  /** Down while Redis is unreachable or refuses a write, until it is ready again or a write lands (gRPC health's wxtoken.v1.Store). */
  readonly health: WriteHealth;
  private readonly clients: RedisClients;
  private readonly tokens: RedisTokens;
  private readonly quotas: RedisQuotas;
  private readonly lock: RedisLock;
  protected readonly platforms: RedisPlatforms;
  private registry: ReplicaRegistry | undefined;

  constructor(private readonly opts: RedisStoreOptions) {
    super();
    this.clients = new RedisClients(opts);
    this.health = this.clients.health;
    this.tokens = new RedisTokens(this.clients);
    this.quotas = new RedisQuotas(this.clients);
    this.lock = new RedisLock(this.clients, opts);
    this.platforms = new RedisPlatforms(this.clients);
    this.clients.redis.on("ready", () => {
      this.lock.releaseUnreleased();
      // The subscriber may have come back first, when reads still failed: platforms reload now too.
      this.platforms.announce();
    });
    // Catches up on what was published while the subscriber was away.
    subscribeChannels(this.clients.sub, [this.tokens.channel, this.platforms.channel], () => {
      this.platforms.announce();
      return this.tokens.resync();
    });
  }

  /** Connects (a server may start before Redis; it then keeps retrying) and reads every shared token. */
  async load(): Promise<Map<string, StoredCredential>> {
    await this.clients.connect();
    const { log, where } = this.clients;
    let tokens = new Map<string, StoredCredential>();
    try {
      tokens = await this.tokens.load();
      await this.quotas.load();
      log.info({ where, tokens: tokens.size }, "shared tokens loaded");
    } catch (err) {
      log.warn({ where, err: this.clients.why(err) }, "redis unreachable at start; no token is fetched until it is");
    }
    return tokens;
  }

  save(token: StoredCredential): void {
    this.tokens.save(token);
  }

  quota(key: string): StoredQuota | undefined {
    return this.quotas.quota(key);
  }

  saveQuota(key: string, quota: StoredQuota): void {
    this.quotas.save(key, quota);
  }

  async withLock<T>(key: string, fn: (shared: SharedState) => Promise<T>): Promise<T> {
    return this.lock.withLock(key, async () => fn(await this.sharedState(key)));
  }

  /** What the lock holder reads: the cluster's token and quota count for the credential. */
  private async sharedState(key: string): Promise<SharedState> {
    const { redis } = this.clients;
    const [token, quota] = await this.clients.command(() => redis.mget(this.clients.key("token", key), this.clients.key("quota", key)));
    const shared = { token: parsed(token, toStoredCredential), quota: parsed(quota, asQuota) };
    if (shared.quota) this.quotas.remember(key, shared.quota);
    return shared;
  }

  onToken(listener: (token: StoredCredential) => void): () => void {
    return this.tokens.channel.on(listener);
  }

  async flush(): Promise<void> {
    await this.clients.flush();
  }

  /**
   * The live replicas and which credentials this one refreshes, on this
   * store's connection. Made on first use; start() it after load() (which
   * connects); close() deletes its entry.
   */
  replicas(): ReplicaRegistry {
    const { redis, log } = this.clients;
    this.registry ??= new ReplicaRegistry({ ...this.opts.replicas, redis, keyPrefix: this.opts.keyPrefix, log, scrub: (m) => this.clients.scrub(m) });
    return this.registry;
  }

  async close(): Promise<void> {
    // Leaves first, while the connection is up, so that the others take over at once.
    await this.registry?.stop();
    await this.clients.close();
  }
}

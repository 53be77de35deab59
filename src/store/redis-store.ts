/**
 * Tokens, quota counts and the refresh lock in Redis, shared by several
 * wxtoken replicas (see src/token/coordinator.ts for why). The appsecret never
 * goes to Redis; the tokens do, so protect it like the tokens themselves
 * (AUTH/ACL, rediss:// across a network).
 *
 * Keys (prefix "wxtoken:" by default), by credential key (src/core/credential.ts):
 * token:<key> (JSON StoredCredential), quota:<key> (JSON StoredQuota; also
 * quota:hour:<corp>[/<agent>] for WeCom's hourly ticket limits), lock:<key> (a
 * lease id, with a TTL), and the channel tokens, on which each new value is published.
 * Open Platforms: platform:<component>:ticket, platform:<component>:authorizers
 * (a hash, appid -> JSON StoredAuthorizer, no TTL),
 * platform:<component>:deauthorized (a hash, appid -> ms of its latest
 * de-authorization), and the channel platform. replicas: a sorted set, replica
 * id -> its latest heartbeat (replica-registry.ts).
 */
import { randomUUID } from "node:crypto";
import { Redis, type RedisOptions } from "ioredis";
import type { Logger } from "../log.js";
import { connectionOptions, type RedisConnection } from "./redis-connection.js";
import { watchMasterSwitches, type SentinelWatchOptions } from "./sentinel-watch.js";
import { hashEntries, hashFields, saveAuthorizerBatch, scanValues } from "./redis-batch.js";
import { ReplicaRegistry } from "./replica-registry.js";
import { WriteHealth } from "./write-health.js";
import type { Clock } from "../clock.js";
import { CoordinationError, type Coordinator, type SharedState } from "../core/coordinator.js";
import { isStoredQuota, toStoredCredential, type StoredCredential, type StoredQuota, type TokenStore } from "../core/store.js";
import {
  toStoredAuthorizer,
  toStoredTicket,
  type AuthorizerStatus,
  type PlatformChange,
  type PlatformStore,
  type RemoveOutcome,
  type RepairedTimes,
  type StoredAuthorizer,
  type StoredTicket,
} from "../openplatform/store.js";

const asQuota = (v: unknown) => (isStoredQuota(v) ? v : undefined);

export interface RedisStoreOptions extends RedisConnection {
  keyPrefix: string;
  /** How long a refresh lock lives if its holder dies: longer than an upstream call may take. */
  lockLeaseMs: number;
  /** How long to wait for another replica's lock before giving up (default lease + 2 s). */
  lockWaitMs?: number;
  /** Connect and per-command timeout (default 2000 ms). */
  timeoutMs?: number;
  /** This replica in the cluster's live set (see replicas()): its id (default hostname-pid-random), lease (default 15 s), clock. */
  replicas?: { id?: string; leaseMs?: number; clock?: Clock };
  log: Logger;
}

/** Saves a token unless Redis holds a newer version (a slow replica must not go back), and tells every replica. */
const SAVE_TOKEN = `
local current = redis.call('GET', KEYS[1])
if current then
  local ok, held = pcall(cjson.decode, current)
  if ok and type(held) == 'table' and tonumber(held.version) and tonumber(held.version) > tonumber(ARGV[2]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('PUBLISH', KEYS[2], ARGV[1])
return 1`;

/** Releases a lock only if it is still ours (it may have expired and been taken by another replica). */
const RELEASE_LOCK = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;

/**
 * Merges a quota count into the shared one, never downwards: the same day
 * keeps the larger of each count, an older day never replaces a newer one
 * (a stale or replayed write, a replica that missed a Redis data loss), and
 * lastForcedAt keeps the later time. Returns what is stored.
 */
const SAVE_QUOTA = `
local q = cjson.decode(ARGV[1])
local current = redis.call('GET', KEYS[1])
if current then
  local ok, held = pcall(cjson.decode, current)
  if ok and type(held) == 'table' and tonumber(held.day) then
    local forcedAt = math.max(tonumber(q.lastForcedAt) or 0, tonumber(held.lastForcedAt) or 0)
    if tonumber(held.day) > q.day then
      q = held
    elseif tonumber(held.day) == q.day then
      q.used = math.max(q.used, tonumber(held.used) or 0)
      q.forced = math.max(q.forced, tonumber(held.forced) or 0)
    end
    if forcedAt > 0 then q.lastForcedAt = forcedAt end
  end
end
local merged = cjson.encode(q)
redis.call('SET', KEYS[1], merged, 'EX', ARGV[2])
return merged`;

const QUOTA_TTL_SECONDS = 2 * 86_400;

/** Stores a ticket unless one created later is held; kept an hour past its expiry; tells every replica. */
const SAVE_TICKET = `
local current = redis.call('GET', KEYS[1])
if current then
  local ok, held = pcall(cjson.decode, current)
  if ok and type(held) == 'table' and tonumber(held.createdAt) and tonumber(held.createdAt) > tonumber(ARGV[2]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
redis.call('PUBLISH', KEYS[2], ARGV[4])
return 1`;

/** Changes an authorizer only if its stored refresh token is still the expected one; tells every replica. */
const UPDATE_AUTHORIZER = `
local current = redis.call('HGET', KEYS[1], ARGV[1])
if not current then return 0 end
local ok, held = pcall(cjson.decode, current)
if not ok or type(held) ~= 'table' or held.refreshToken ~= ARGV[2] then return 0 end
local change = cjson.decode(ARGV[3])
if change.refreshToken then held.refreshToken = change.refreshToken end
if change.status then held.status = change.status end
held.updatedAt = change.updatedAt
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(held))
redis.call('PUBLISH', KEYS[2], ARGV[4])
return 1`;

/**
 * An authorizer added or replaced (no TTL: refresh tokens never expire)
 * unless a de-authorization at or after it (KEYS[3], appid -> ms) or a later
 * authorization is held; a stored one clears its de-authorization. Tells every replica.
 */
const SAVE_AUTHORIZER = `
local at = tonumber(ARGV[4])
local gone = tonumber(redis.call('HGET', KEYS[3], ARGV[1]))
if gone and gone >= at then return 0 end
local current = redis.call('HGET', KEYS[1], ARGV[1])
if current then
  local ok, held = pcall(cjson.decode, current)
  if ok and type(held) == 'table' and tonumber(held.authorizedAt) and tonumber(held.authorizedAt) > at then return 0 end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('PUBLISH', KEYS[2], ARGV[3])
return 1`;

/**
 * A de-authorization at ARGV[2] (ms): unless an authorization made later is
 * held, drops the authorizer and its stored tokens (KEYS[4..]) and remembers
 * the time (KEYS[3]). Returns 1 removed, 0 not held, -1 a newer one held.
 */
const REMOVE_AUTHORIZER = `
local at = tonumber(ARGV[2])
local current = redis.call('HGET', KEYS[1], ARGV[1])
if current then
  local ok, held = pcall(cjson.decode, current)
  if ok and type(held) == 'table' and tonumber(held.authorizedAt) and tonumber(held.authorizedAt) > at then return -1 end
end
local gone = tonumber(redis.call('HGET', KEYS[3], ARGV[1]))
if not gone or gone < at then redis.call('HSET', KEYS[3], ARGV[1], ARGV[2]) end
for i = 4, #KEYS do redis.call('DEL', KEYS[i]) end
local n = redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('PUBLISH', KEYS[2], ARGV[3])
return n`;

/**
 * Brings push times after ARGV[1] back to ARGV[2] (see PlatformStore.repairFutureTimes):
 * the ticket's createdAt (its TTL kept), each authorizer's authorizedAt and
 * updatedAt, each de-authorization time. Returns {ticket 0/1, appids, appids};
 * tells every replica ("all") when anything changed.
 */
const REPAIR_FUTURE_TIMES = `
local limit = tonumber(ARGV[1])
local now = tonumber(ARGV[2])
local ticket = 0
local authorized = {}
local deauthorized = {}
local current = redis.call('GET', KEYS[1])
if current then
  local ok, t = pcall(cjson.decode, current)
  if ok and type(t) == 'table' and tonumber(t.createdAt) and tonumber(t.createdAt) > limit then
    t.createdAt = now
    local ttl = redis.call('PTTL', KEYS[1])
    if ttl > 0 then redis.call('SET', KEYS[1], cjson.encode(t), 'PX', ttl) else redis.call('SET', KEYS[1], cjson.encode(t)) end
    ticket = 1
  end
end
local held = redis.call('HGETALL', KEYS[2])
for i = 1, #held, 2 do
  local ok, a = pcall(cjson.decode, held[i + 1])
  if ok and type(a) == 'table' then
    local changed = false
    for _, field in ipairs({'authorizedAt', 'updatedAt'}) do
      if tonumber(a[field]) and tonumber(a[field]) > limit then
        a[field] = now
        changed = true
      end
    end
    if changed then
      redis.call('HSET', KEYS[2], held[i], cjson.encode(a))
      table.insert(authorized, held[i])
    end
  end
end
local gone = redis.call('HGETALL', KEYS[3])
for i = 1, #gone, 2 do
  if tonumber(gone[i + 1]) and tonumber(gone[i + 1]) > limit then
    redis.call('HSET', KEYS[3], gone[i], ARGV[2])
    table.insert(deauthorized, gone[i])
  end
end
if ticket == 1 or #authorized > 0 or #deauthorized > 0 then redis.call('PUBLISH', KEYS[4], ARGV[3]) end
return {ticket, authorized, deauthorized}`;

export class RedisStore implements TokenStore, Coordinator, PlatformStore {
  readonly kind = "redis";
  private readonly redis: Redis;
  /** Subscriptions need a connection of their own. */
  private readonly sub: Redis;
  private readonly quotas = new Map<string, StoredQuota>();
  private readonly listeners = new Set<(token: StoredCredential) => void>();
  private readonly platformListeners = new Set<(change: PlatformChange) => void>();
  /** Components asked about, for the catch-up after a reconnect. */
  private readonly components = new Set<string>();
  private readonly writes = new Set<Promise<unknown>>();
  /** Locks we may hold without knowing it (lease -> lock key): an attempt that timed out, a release that failed. */
  private readonly unreleased = new Map<string, string>();
  private readonly releasing = new Set<string>();
  private readonly log: Logger;
  private readonly where: string;
  /** Why the connection last failed (e.g. WRONGPASS): a failed command alone only says "not writeable". */
  private connectionError: string | undefined;
  /** With Sentinel: follows master switches (see sentinel-watch.ts), from load() on. */
  private readonly sentinelWatch: SentinelWatchOptions | undefined;
  private stopWatching: (() => void) | undefined;
  private registry: ReplicaRegistry | undefined;
  private closed = false;
  /** Down while Redis is unreachable or refuses a write, until it is ready again or a write lands (gRPC health's wxtoken.v1.Store). */
  readonly health: WriteHealth;

  constructor(private readonly opts: RedisStoreOptions) {
    this.log = opts.log.child({ store: "redis" });
    const connection = connectionOptions(opts);
    // Never logs the password a URL may carry.
    this.where = connection.where;
    this.health = new WriteHealth(this.where, this.log);
    const timeout = opts.timeoutMs ?? 2000;
    const options: RedisOptions = {
      ...connection.options,
      // Shown by CLIENT LIST, for operators (and the failover test).
      connectionName: "wxtoken",
      lazyConnect: true,
      // Fail fast while disconnected: a refresh must not hang on a queued command.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectTimeout: timeout,
      commandTimeout: timeout,
      retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
    };
    const open = (extra: RedisOptions) =>
      connection.url === undefined ? new Redis({ ...options, ...extra }) : new Redis(connection.url, { ...options, ...extra });
    this.redis = open({});
    this.sub = open({ commandTimeout: undefined });
    const { sentinels, name, sentinelUsername, sentinelPassword, sentinelTLS } = connection.options;
    if (sentinels && name) {
      this.sentinelWatch = {
        sentinels: sentinels.map((s) => ({ host: s.host ?? "127.0.0.1", port: s.port ?? 26379 })),
        masterName: name,
        connect: { username: sentinelUsername, password: sentinelPassword, tls: sentinelTLS },
        log: this.log,
        // Reconnecting asks the sentinels for the master again.
        onSwitch: () => {
          this.redis.disconnect(true);
          this.sub.disconnect(true);
        },
      };
    }
    for (const [name, conn] of [["commands", this.redis], ["subscriber", this.sub]] as const) {
      let down = false;
      conn.on("error", (err: Error) => {
        this.connectionError = this.scrub(err.message);
        if (down || this.closed) return;
        if (name === "commands") this.health.failed();
        // Refused credentials are an operator's to fix, not a network blip.
        if (/WRONGPASS|NOAUTH|NOPERM/.test(err.message)) {
          this.log.error({ where: this.where, connection: name, err: this.connectionError }, "redis refused the credentials: check store.username and store.passwordEnv");
        } else {
          this.log.warn({ where: this.where, connection: name, err: this.connectionError }, "redis unreachable; retrying");
        }
        down = true;
      });
      conn.on("ready", () => {
        if (down) this.log.info({ where: this.where, connection: name }, "redis reachable again");
        down = false;
        if (name === "commands") this.connectionError = undefined;
        if (name === "commands") this.health.succeeded();
      });
    }
    this.redis.on("ready", () => {
      this.releaseUnreleased();
      // The subscriber may have come back first, when reads still failed: platforms reload now too.
      this.announcePlatforms();
    });
    this.sub.on("message", (channel: string, message: string) => (channel === this.key("platform") ? this.deliverPlatform(message) : this.deliver(message)));
    // Subscribe on every (re)connect, then catch up on what was published meanwhile.
    this.sub.on("ready", () => {
      this.sub.subscribe(this.key("tokens"), this.key("platform")).then(() => this.resync(), () => undefined);
    });
  }

  private key(...parts: string[]): string {
    return this.opts.keyPrefix + parts.join(":");
  }

  /** Connects (a server may start before Redis; it then keeps retrying) and reads every shared token. */
  async load(): Promise<Map<string, StoredCredential>> {
    if (this.sentinelWatch) this.stopWatching ??= watchMasterSwitches(this.sentinelWatch);
    await Promise.all([this.redis.connect(), this.sub.connect()].map((p) => p.catch(() => undefined)));
    const tokens = new Map<string, StoredCredential>();
    try {
      for (const [key, t] of await this.readAll("token", toStoredCredential)) if (t.key === key) tokens.set(key, t);
      for (const [key, q] of await this.readAll("quota", asQuota)) this.quotas.set(key, q);
      this.log.info({ where: this.where, tokens: tokens.size }, "shared tokens loaded");
    } catch (err) {
      this.log.warn({ where: this.where, err: this.connectionError ?? this.scrub((err as Error).message) }, "redis unreachable at start; no token is fetched until it is");
    }
    return tokens;
  }

  save(token: StoredCredential): void {
    this.track(this.redis.eval(SAVE_TOKEN, 2, this.key("token", token.key), this.key("tokens"), JSON.stringify(token), token.version), "save token");
  }

  quota(key: string): StoredQuota | undefined {
    return this.quotas.get(key);
  }

  saveQuota(key: string, quota: StoredQuota): void {
    this.quotas.set(key, { ...quota });
    // Written under the credential's lock after reading the shared count, but
    // merged upwards all the same: a count must never go down (see SAVE_QUOTA).
    const write = this.redis.eval(SAVE_QUOTA, 1, this.key("quota", key), JSON.stringify(quota), QUOTA_TTL_SECONDS).then((merged) => {
      const q = parsed(String(merged), asQuota);
      if (q) this.quotas.set(key, q);
    });
    this.track(write, "save quota");
  }

  async withLock<T>(key: string, fn: (shared: SharedState) => Promise<T>): Promise<T> {
    const lockKey = this.key("lock", key);
    const lease = randomUUID();
    const waitMs = this.opts.lockWaitMs ?? this.opts.lockLeaseMs + 2000;
    const deadline = Date.now() + waitMs;
    this.releaseUnreleased();
    for (;;) {
      // Only a command written to the socket can still run later.
      const sent = this.redis.status === "ready";
      const taken = await this.command(() => this.redis.set(lockKey, lease, "PX", this.opts.lockLeaseMs, "NX")).catch((err: unknown) => {
        // A frozen Redis runs the SET when it resumes, taking the lock for a
        // whole lease with nobody holding it: release it as soon as it can be.
        if (sent) this.unreleased.set(lease, lockKey);
        this.releaseUnreleased();
        throw err;
      });
      if (taken === "OK") break;
      if (Date.now() >= deadline) {
        throw new CoordinationError(`another replica held the refresh lock of ${key} for over ${waitMs} ms`);
      }
      // Real time on purpose: the lease in Redis runs on real time too.
      await new Promise((resolve) => setTimeout(resolve, 40 + Math.random() * 80));
    }
    try {
      const [token, quota] = await this.command(() => this.redis.mget(this.key("token", key), this.key("quota", key)));
      const shared = { token: parsed(token, toStoredCredential), quota: parsed(quota, asQuota) };
      if (shared.quota) this.quotas.set(key, shared.quota);
      return await fn(shared);
    } finally {
      // Queued after fn's writes on the same connection, so the next holder sees them.
      await this.redis.eval(RELEASE_LOCK, 1, lockKey, lease).catch((err: Error) => {
        this.unreleased.set(lease, lockKey);
        this.log.warn({ credential: key, err: this.scrub(err.message) }, "could not release the refresh lock; retrying once Redis answers (it expires by itself otherwise)");
      });
    }
  }

  /**
   * Releases every lock we may hold unknowingly, if it still holds our lease.
   * Sent on the connection that carried the SET, the release runs after it,
   * so a lease is forgotten once a release has been answered.
   */
  private releaseUnreleased(): void {
    for (const [lease, lockKey] of this.unreleased) {
      if (this.releasing.has(lease) || this.redis.status !== "ready") continue;
      this.releasing.add(lease);
      this.redis
        .eval(RELEASE_LOCK, 1, lockKey, lease)
        .then(
          (released) => {
            this.unreleased.delete(lease);
            if (released === 1) this.log.info({ lock: lockKey }, "released a refresh lock taken by an attempt that had given up");
          },
          () => undefined,
        )
        .finally(() => this.releasing.delete(lease));
    }
  }

  onToken(listener: (token: StoredCredential) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async flush(): Promise<void> {
    await Promise.allSettled([...this.writes]);
  }

  /**
   * The live replicas and which credentials this one refreshes, on this
   * store's connection. Made on first use; start() it after load() (which
   * connects); close() deletes its entry.
   */
  replicas(): ReplicaRegistry {
    this.registry ??= new ReplicaRegistry({ ...this.opts.replicas, redis: this.redis, keyPrefix: this.opts.keyPrefix, log: this.log, scrub: (m) => this.scrub(m) });
    return this.registry;
  }

  async close(): Promise<void> {
    // Leaves first, while the connection is up, so that the others take over at once.
    await this.registry?.stop();
    await this.flush();
    this.closed = true;
    this.stopWatching?.();
    await Promise.allSettled([this.redis.quit(), this.sub.quit()]);
    this.redis.disconnect();
    this.sub.disconnect();
  }

  private async command<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      const why = this.redis.status === "ready" || this.connectionError === undefined ? this.scrub((err as Error).message) : this.connectionError;
      throw new CoordinationError(`shared store ${this.where} unreachable: ${why}`);
    }
  }

  /** No Redis error is known to echo a password; should one ever, it is not passed on. */
  private scrub(message: string): string {
    const inUrl = this.opts.url ? new URL(this.opts.url).password : "";
    const secrets = [this.opts.password, this.opts.sentinelPassword, inUrl, safeDecode(inUrl)];
    return secrets.reduce<string>((m, s) => (s ? m.replaceAll(s, "***") : m), message);
  }

  private track(write: Promise<unknown>, what: string): void {
    const p = write.then(
      () => this.health.succeeded(),
      (err: Error) => {
        this.health.failed();
        this.log.warn({ where: this.where, err: this.scrub(err.message) }, `redis: could not ${what}`);
      },
    );
    this.writes.add(p);
    void p.finally(() => this.writes.delete(p));
  }

  private deliver(message: string): void {
    const token = parsed(message, toStoredCredential);
    if (!token) return;
    for (const listener of [...this.listeners]) listener(token);
  }

  // Open Platform (PlatformStore): read from Redis every time, written with awaited scripts.

  async ticket(component: string): Promise<StoredTicket | undefined> {
    this.components.add(component);
    return parsed(await this.command(() => this.redis.get(this.key("platform", component, "ticket"))), toStoredTicket);
  }

  async saveTicket(component: string, ticket: StoredTicket): Promise<boolean> {
    this.components.add(component);
    const change = JSON.stringify({ component, what: "ticket" } satisfies PlatformChange);
    // Kept an hour past its expiry, so ListAuthorizers can still say when the last one expired.
    // Relative to its receipt (our clock), not an absolute time on Redis's clock.
    const keepUntil = Math.max(1, Math.round(ticket.expiresAt - ticket.receivedAt + 3600_000));
    const saved = await this.command(() =>
      this.redis.eval(SAVE_TICKET, 2, this.key("platform", component, "ticket"), this.key("platform"), JSON.stringify(ticket), ticket.createdAt, keepUntil, change),
    );
    return saved === 1;
  }

  async authorizers(component: string): Promise<Map<string, StoredAuthorizer>> {
    this.components.add(component);
    return authorizersIn(await this.command(() => hashEntries(this.redis, this.key("platform", component, "authorizers"))));
  }

  async authorizersOf(component: string, appIds: readonly string[]): Promise<Map<string, StoredAuthorizer>> {
    this.components.add(component);
    return authorizersIn(await this.command(() => hashFields(this.redis, this.key("platform", component, "authorizers"), appIds)));
  }

  async authorizer(component: string, appId: string): Promise<StoredAuthorizer | undefined> {
    this.components.add(component);
    return parsed(await this.command(() => this.redis.hget(this.key("platform", component, "authorizers"), appId)), toStoredAuthorizer);
  }

  async saveAuthorizer(component: string, authorizer: StoredAuthorizer): Promise<boolean> {
    this.components.add(component);
    const change = JSON.stringify({ component, what: "authorizer", appId: authorizer.appId } satisfies PlatformChange);
    const saved = await this.command(() =>
      this.redis.eval(
        SAVE_AUTHORIZER,
        3,
        this.key("platform", component, "authorizers"),
        this.key("platform"),
        this.key("platform", component, "deauthorized"),
        authorizer.appId,
        JSON.stringify(authorizer),
        change,
        authorizer.authorizedAt,
      ),
    );
    return saved === 1;
  }

  /** saveAuthorizer's script for each record, one script call per chunk in one pipeline, then one note for the batch. */
  async saveAuthorizers(component: string, records: readonly StoredAuthorizer[]): Promise<boolean[]> {
    this.components.add(component);
    if (records.length === 0) return [];
    const { stored, failed } = await this.command(() =>
      saveAuthorizerBatch(this.redis, {
        authorizersKey: this.key("platform", component, "authorizers"),
        deauthorizedKey: this.key("platform", component, "deauthorized"),
        records: records.map((a) => ({ appId: a.appId, json: JSON.stringify(a), authorizedAt: a.authorizedAt })),
      }),
    );
    const appIds = [...new Set(records.filter((_, i) => stored[i]).map((a) => a.appId))];
    // Every replica reloads these accounts (one HMGET), not the whole platform.
    const note = JSON.stringify({ component, what: "authorizers", appIds } satisfies PlatformChange);
    if (appIds.length > 0) await this.command(() => this.redis.publish(this.key("platform"), note));
    // What was stored stays (the caller's retry is taken again: the same authorization is not older).
    if (failed) throw new CoordinationError(`shared store ${this.where}: a batch of authorizers was stored in part: ${this.scrub(failed.message)}`);
    return stored;
  }

  async updateAuthorizer(component: string, appId: string, expected: string, change: { refreshToken?: string; status?: AuthorizerStatus; updatedAt: number }): Promise<boolean> {
    const note = JSON.stringify({ component, what: "authorizer", appId } satisfies PlatformChange);
    const done = await this.command(() =>
      this.redis.eval(UPDATE_AUTHORIZER, 2, this.key("platform", component, "authorizers"), this.key("platform"), appId, expected, JSON.stringify(change), note),
    );
    return done === 1;
  }

  async removeAuthorizer(component: string, appId: string, at: number, credentialKeys: readonly string[]): Promise<RemoveOutcome> {
    const note = JSON.stringify({ component, what: "authorizer", appId } satisfies PlatformChange);
    const tokens = credentialKeys.map((k) => this.key("token", k));
    const done = await this.command(() =>
      this.redis.eval(
        REMOVE_AUTHORIZER,
        3 + tokens.length,
        this.key("platform", component, "authorizers"),
        this.key("platform"),
        this.key("platform", component, "deauthorized"),
        ...tokens,
        appId,
        at,
        note,
      ),
    );
    return done === 1 ? "removed" : done === -1 ? "newer_held" : "not_held";
  }

  async claim(component: string, what: string, ttlMs: number): Promise<boolean> {
    const taken = await this.command(() => this.redis.set(this.key("platform", component, "claim", what), "1", "PX", Math.max(1, Math.round(ttlMs)), "NX"));
    return taken === "OK";
  }

  async repairFutureTimes(component: string, notAfter: number, now: number): Promise<RepairedTimes> {
    this.components.add(component);
    const change = JSON.stringify({ component, what: "all" } satisfies PlatformChange);
    const [ticket, authorized, deauthorized] = (await this.command(() =>
      this.redis.eval(
        REPAIR_FUTURE_TIMES,
        4,
        this.key("platform", component, "ticket"),
        this.key("platform", component, "authorizers"),
        this.key("platform", component, "deauthorized"),
        this.key("platform"),
        Math.floor(notAfter),
        Math.floor(now),
        change,
      ),
    )) as [number, string[], string[]];
    return { ticket: ticket === 1, authorized, deauthorized };
  }

  onPlatformChange(listener: (change: PlatformChange) => void): () => void {
    this.platformListeners.add(listener);
    return () => this.platformListeners.delete(listener);
  }

  private deliverPlatform(message: string): void {
    const change = parsed(message, toPlatformChange);
    if (!change) return;
    for (const listener of [...this.platformListeners]) listener(change);
  }

  /** Every platform asked about reloads everything (what was published while we could not hear it). */
  private announcePlatforms(): void {
    for (const component of this.components) for (const listener of [...this.platformListeners]) listener({ component, what: "all" });
  }

  private async resync(): Promise<void> {
    this.announcePlatforms();
    try {
      for (const t of (await this.readAll("token", toStoredCredential)).values()) for (const listener of [...this.listeners]) listener(t);
    } catch {
      // The next reconnect tries again.
    }
  }

  /** Every token:* or quota:* value, by app id (100,000s of keys: see scanValues). */
  private async readAll<T>(kind: "token" | "quota", valid: (v: unknown) => T | undefined): Promise<Map<string, T>> {
    const out = new Map<string, T>();
    for (const [key, text] of await scanValues(this.redis, this.key(kind, ""))) {
      const v = parsed(text, valid);
      if (v !== undefined) out.set(key, v);
    }
    return out;
  }
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function parsed<T>(text: string | null | undefined, valid: (v: unknown) => T | undefined): T | undefined {
  if (text === null || text === undefined) return undefined;
  try {
    return valid(JSON.parse(text));
  } catch {
    return undefined;
  }
}

function authorizersIn(hash: Map<string, string>): Map<string, StoredAuthorizer> {
  const out = new Map<string, StoredAuthorizer>();
  for (const [appId, text] of hash) {
    const a = parsed(text, toStoredAuthorizer);
    if (a && a.appId === appId) out.set(appId, a);
  }
  return out;
}

function toPlatformChange(v: unknown): PlatformChange | undefined {
  if (typeof v !== "object" || v === null) return undefined;
  const o = v as Record<string, unknown>;
  if (typeof o.component !== "string") return undefined;
  if (o.what === "ticket") return { component: o.component, what: "ticket" };
  if (o.what === "all") return { component: o.component, what: "all" };
  if (o.what === "authorizer" && typeof o.appId === "string") return { component: o.component, what: "authorizer", appId: o.appId };
  if (o.what === "authorizers" && Array.isArray(o.appIds) && o.appIds.every((a) => typeof a === "string")) {
    return { component: o.component, what: "authorizers", appIds: o.appIds as string[] };
  }
  return undefined;
}

/**
 * The Redis store's two connections (redis-connection.ts says how they reach
 * Redis): one for commands, one for subscriptions (a subscribed connection
 * can run nothing else). Every part of the store (tokens, quota counts, the
 * lock, platforms, pub/sub) goes through here, so that the connections are
 * watched in one place: an outage logged once, the store's health, a failed
 * command explained by why the connection failed (WRONGPASS rather than
 * "not writeable"), background writes awaited by flush(), and no password in
 * any message.
 */
import { Redis, type RedisOptions } from "ioredis";
import type { Logger } from "../log.js";
import { CoordinationError } from "../core/coordinator.js";
import { connectionOptions, type RedisConnection } from "./redis-connection.js";
import { scanValues } from "./redis-batch.js";
import { watchMasterSwitches, type SentinelWatchOptions } from "./sentinel-watch.js";
import { WriteHealth } from "./write-health.js";
import { parsed } from "./parsed.js";

export interface RedisClientsOptions extends RedisConnection {
  keyPrefix: string;
  /** Connect and per-command timeout (default 2000 ms). */
  timeoutMs?: number;
  log: Logger;
}

export class RedisClients {
  readonly redis: Redis;
  /** Subscriptions need a connection of their own. */
  readonly sub: Redis;
  readonly log: Logger;
  /** Where Redis is, for logs and errors: never the password a URL may carry. */
  readonly where: string;
  /** Down while Redis is unreachable or refuses a write, until it is ready again or a write lands (gRPC health's wxtoken.v1.Store). */
  readonly health: WriteHealth;
  /** Why the connection last failed (e.g. WRONGPASS): a failed command alone only says "not writeable". */
  private connectionError: string | undefined;
  /** With Sentinel: follows master switches (see sentinel-watch.ts), from connect() on. */
  private readonly sentinelWatch: SentinelWatchOptions | undefined;
  private stopWatching: (() => void) | undefined;
  private readonly writes = new Set<Promise<unknown>>();
  private closed = false;

  constructor(private readonly opts: RedisClientsOptions) {
    this.log = opts.log.child({ store: "redis" });
    const connection = connectionOptions(opts);
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
  }

  /** A key (or channel) under the prefix: key("token", "wx1") is "wxtoken:token:wx1". */
  key(...parts: string[]): string {
    return this.opts.keyPrefix + parts.join(":");
  }

  /** Connects both (a server may start before Redis; it then keeps retrying). */
  async connect(): Promise<void> {
    if (this.sentinelWatch) this.stopWatching ??= watchMasterSwitches(this.sentinelWatch);
    await Promise.all([this.redis.connect(), this.sub.connect()].map((p) => p.catch(() => undefined)));
  }

  /** Runs a command; its failure is a CoordinationError saying why Redis could not be used. */
  async command<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      const why = this.redis.status === "ready" || this.connectionError === undefined ? this.scrub((err as Error).message) : this.connectionError;
      throw new CoordinationError(`shared store ${this.where} unreachable: ${why}`);
    }
  }

  /** Why a read failed, for a log line: the connection's own error when there is one. */
  why(err: unknown): string {
    return this.connectionError ?? this.scrub((err as Error).message);
  }

  /** No Redis error is known to echo a password; should one ever, it is not passed on. */
  scrub(message: string): string {
    const inUrl = this.opts.url ? new URL(this.opts.url).password : "";
    const secrets = [this.opts.password, this.opts.sentinelPassword, inUrl, safeDecode(inUrl)];
    return secrets.reduce<string>((m, s) => (s ? m.replaceAll(s, "***") : m), message);
  }

  /** A write nobody awaits (a token, a quota count): it moves the health, a failure is logged, flush() waits for it. */
  track(write: Promise<unknown>, what: string): void {
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

  async flush(): Promise<void> {
    await Promise.allSettled([...this.writes]);
  }

  /** Every token:* or quota:* value, by the key's rest (100,000s of keys: see scanValues). */
  async readAll<T>(kind: "token" | "quota", valid: (v: unknown) => T | undefined): Promise<Map<string, T>> {
    const out = new Map<string, T>();
    for (const [key, text] of await scanValues(this.redis, this.key(kind, ""))) {
      const v = parsed(text, valid);
      if (v !== undefined) out.set(key, v);
    }
    return out;
  }

  /** Waits for the tracked writes, then closes both connections. */
  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
    this.stopWatching?.();
    await Promise.allSettled([this.redis.quit(), this.sub.quit()]);
    this.redis.disconnect();
    this.sub.disconnect();
  }
}


function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/**
 * Moves the Redis store to a new master the moment a sentinel announces it
 * (+switch-master), rather than when the old master drops its clients: until
 * Sentinel demotes it, up to about 10 s later, the old master still accepts
 * writes (a token, a lock), and they are lost when it becomes a replica.
 *
 * ioredis's own `failoverDetector` does the same, but leaves the errors of its
 * sentinel connections unhandled: with one sentinel down, it prints a stack
 * trace to stderr every second. Here a sentinel that is down is logged once,
 * at debug level, and retried quietly.
 */
import { Redis, type RedisOptions } from "ioredis";
import type { Logger } from "../log.js";

export interface SentinelWatchOptions {
  sentinels: { host: string; port: number }[];
  masterName: string;
  /** What the sentinels require (sentinelUsername, sentinelPassword, sentinelTLS). */
  connect: Pick<RedisOptions, "username" | "password" | "tls">;
  onSwitch: () => void;
  log: Logger;
}

/** Subscribes to every sentinel; returns a function that closes the subscriptions. */
export function watchMasterSwitches(opts: SentinelWatchOptions): () => void {
  const clients = opts.sentinels.map(({ host, port }) => {
    const client = new Redis({
      ...opts.connect,
      host,
      port,
      connectTimeout: 2000,
      // Any one sentinel suffices; one that is down is retried, not waited for.
      retryStrategy: (attempt) => Math.min(attempt * 500, 5000),
      maxRetriesPerRequest: null,
    });
    let down = false;
    client.on("error", (err: Error) => {
      if (!down) opts.log.debug({ sentinel: `${host}:${port}`, err: err.message }, "sentinel unreachable; retrying");
      down = true;
    });
    client.on("ready", () => (down = false));
    // ioredis subscribes again after each reconnect.
    client.subscribe("+switch-master").catch(() => undefined);
    // "<master name> <old ip> <old port> <new ip> <new port>"
    client.on("message", (_channel: string, message: string) => {
      if (message.split(" ")[0] === opts.masterName) {
        opts.log.info({ master: opts.masterName, sentinel: `${host}:${port}` }, "sentinel switched the master; reconnecting");
        opts.onSwitch();
      }
    });
    return client;
  });
  return () => {
    for (const c of clients) c.disconnect();
  };
}

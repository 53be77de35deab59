/**
 * How the Redis store reaches Redis, as operators run it: one server by URL,
 * or a master found through Redis Sentinel; an ACL user and password; TLS.
 * Turned into ioredis options here, with a description for logs and errors
 * that never holds a password.
 */
import { readFileSync } from "node:fs";
import type { ConnectionOptions } from "node:tls";
import type { RedisOptions } from "ioredis";
import { splitHostPort } from "../host-port.js";

export interface RedisConnection {
  /** One Redis: redis://[user:password@]host:port[/db] or rediss://... */
  url?: string;
  /** Or Sentinel: "host:port" of each sentinel to ask for the current master... */
  sentinels?: string[];
  /** ...of this name. */
  masterName?: string;
  /** Database number with sentinels (a URL carries its own). */
  db?: number;
  /** ACL user; overrides one in the URL. */
  username?: string;
  /** Overrides a password in the URL (read from an environment variable by the config). */
  password?: string;
  /** What the sentinels themselves require, if anything. */
  sentinelUsername?: string;
  sentinelPassword?: string;
  /** TLS: a CA file and server name. With a URL, rediss:// turns TLS on; with sentinels, this does. */
  tls?: { caFile?: string; serverName?: string };
}

export const DEFAULT_REDIS_URL = "redis://127.0.0.1:6379";

/** The ioredis constructor's arguments for this connection, and where it goes (for logs: no password). */
export function connectionOptions(c: RedisConnection): { url?: string; options: RedisOptions; where: string } {
  const options: RedisOptions = {};
  if (c.username !== undefined) options.username = c.username;
  if (c.password !== undefined) options.password = c.password;
  const tls = tlsOptions(c.tls);
  if (c.sentinels === undefined) {
    const url = c.url ?? DEFAULT_REDIS_URL;
    const u = new URL(url);
    if (tls) options.tls = tls;
    return { url, options, where: `${u.protocol}//${u.host}${u.pathname}` };
  }
  const sentinels = c.sentinels.map((address) => {
    const parts = splitHostPort(address);
    if (!parts || parts.host === "") throw new RangeError(`sentinel address "${address}" is not host:port`);
    return { host: parts.host, port: parts.port };
  });
  Object.assign(options, {
    sentinels,
    name: c.masterName,
    db: c.db ?? 0,
    sentinelUsername: c.sentinelUsername,
    sentinelPassword: c.sentinelPassword,
    ...(tls ? { tls, sentinelTLS: tls, enableTLSForSentinelMode: true } : {}),
  } satisfies RedisOptions);
  return { options, where: `sentinel master "${c.masterName}" via ${c.sentinels.join(",")}${tls ? " (tls)" : ""}` };
}

function tlsOptions(tls: RedisConnection["tls"]): ConnectionOptions | undefined {
  if (!tls) return undefined;
  const out: ConnectionOptions = {};
  if (tls.caFile !== undefined) {
    try {
      out.ca = readFileSync(tls.caFile);
    } catch (err) {
      throw new Error(`store.tls.caFile: cannot read ${tls.caFile}: ${(err as NodeJS.ErrnoException).code ?? "error"}`);
    }
  }
  if (tls.serverName !== undefined) out.servername = tls.serverName;
  return out;
}

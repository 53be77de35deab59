/**
 * The connection limits of every listener, from the config's `connections`
 * section and the process's file descriptor limit. Each open connection holds
 * a descriptor; the store (a snapshot write, a Redis connection), upstream
 * calls and logs need some too. So the caps of the listeners in use must fit
 * in the limit less `reservedDescriptors`: read at start, and when they do not
 * fit they are scaled down to, with a warning that says how to fix it. Then
 * no flood on any port can take the descriptors the store writes with.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import type { Clock } from "../clock.js";
import type { Config } from "../config/schema.js";
import type { Logger } from "../log.js";
import type { GrpcLimits } from "../grpc/grpc-connections.js";
import { ConnectionCap, type ListenerName } from "./connection-cap.js";
import type { HttpLimits } from "./http-limits.js";

export interface ListenerLimits {
  grpc: GrpcLimits;
  http: HttpLimits;
  receiver: HttpLimits;
  metrics: HttpLimits;
  /** The caps of the listeners in use (for the metrics). */
  caps: ConnectionCap[];
}

/** The soft limit on open files (what EMFILE is about), or undefined where it cannot be read or is unlimited. */
export function descriptorLimit(): number | undefined {
  try {
    const m = /^Max open files\s+(\d+|unlimited)\s/m.exec(readFileSync("/proc/self/limits", "utf8"));
    if (m) return m[1] === "unlimited" ? undefined : Number(m[1]);
  } catch {
    // Not Linux: ask the shell, which inherits the limit.
  }
  try {
    const out = execFileSync("sh", ["-c", "ulimit -n"], { encoding: "utf8", timeout: 2000 }).trim();
    return /^\d+$/.test(out) ? Number(out) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The caps, scaled down in proportion when together with the reserve they
 * exceed the limit (each at least 2: a full listener keeps one place free
 * for the next caller, which takes two).
 */
export function fitCaps(wanted: Partial<Record<ListenerName, number>>, reserve: number, limit: number | undefined): Partial<Record<ListenerName, number>> {
  const total = Object.values(wanted).reduce((a, b) => a + b, 0);
  const available = limit === undefined ? Infinity : limit - reserve;
  if (total <= available) return wanted;
  const factor = Math.max(0, available) / total;
  return Object.fromEntries(Object.entries(wanted).map(([name, n]) => [name, Math.max(2, Math.floor(n * factor))]));
}

export function planListeners(config: Config, log: Logger, clock: Clock, limit = descriptorLimit()): ListenerLimits {
  const c = config.connections;
  const inUse: Record<ListenerName, boolean> = {
    grpc: true,
    http: config.http !== undefined,
    receiver: config.openPlatform !== undefined,
    metrics: config.metrics !== undefined,
  };
  const wanted: Partial<Record<ListenerName, number>> = {};
  for (const name of ["grpc", "http", "receiver", "metrics"] as const) if (inUse[name]) wanted[name] = c[name].maxConnections;
  const fitted = fitCaps(wanted, c.reservedDescriptors, limit);
  if (fitted !== wanted) {
    log.warn(
      { descriptorLimit: limit, reservedDescriptors: c.reservedDescriptors, configured: wanted, applied: fitted },
      "the listeners' connection caps and connections.reservedDescriptors exceed the file descriptor limit (ulimit -n): the caps are scaled down to fit. " +
        "Raise the limit (LimitNOFILE= in a systemd unit, ulimit -n, the container's nofile) or lower connections.*.maxConnections",
    );
  }
  const cap = (name: ListenerName, firstUseMs?: number) => new ConnectionCap(name, fitted[name] ?? c[name].maxConnections, { log, clock, firstUseMs });
  const http = (name: "http" | "receiver" | "metrics"): HttpLimits => ({ cap: cap(name), headersMs: c[name].headersSeconds * 1000, idleMs: c[name].idleSeconds * 1000 });
  const limits = {
    grpc: { cap: cap("grpc", c.grpc.firstCallSeconds * 1000), idleMs: c.grpc.idleSeconds * 1000 },
    http: http("http"),
    receiver: http("receiver"),
    metrics: http("metrics"),
  };
  const caps = (["grpc", "http", "receiver", "metrics"] as const).filter((n) => inUse[n]).map((n) => limits[n].cap);
  return { ...limits, caps };
}

/**
 * The listeners' connections (connections.* in the config): how many are
 * open, the cap, and what a full listener did. Read from the caps at scrape
 * time; labels are listener names only.
 */
import { Counter, Gauge, type Registry } from "prom-client";
import type { ConnectionCap } from "../listeners/connection-cap.js";

export function registerConnectionMetrics(registry: Registry, caps: () => readonly ConnectionCap[]): void {
  const registers = [registry];
  const each = (read: (c: ConnectionCap) => number) =>
    function (this: Gauge<"listener"> | Counter<"listener">) {
      this.reset();
      for (const c of caps()) this.inc({ listener: c.listener }, read(c));
    };
  new Gauge({ name: "wxtoken_connections", help: "Open connections, by listener (grpc, http, receiver, metrics)", labelNames: ["listener"], registers, collect: each((c) => c.open) });
  new Gauge({ name: "wxtoken_connections_max", help: "The connection cap of each listener (connections.*.maxConnections, after fitting the descriptor limit)", labelNames: ["listener"], registers, collect: each((c) => c.max) });
  new Counter({
    name: "wxtoken_connections_refused_total",
    help: "New connections refused because the listener was full and every connection busy",
    labelNames: ["listener"],
    registers,
    collect: each((c) => c.refused),
  });
  new Counter({
    name: "wxtoken_connections_evicted_total",
    help: "Idle connections closed because the listener was full, to admit new ones",
    labelNames: ["listener"],
    registers,
    collect: each((c) => c.evicted),
  });
}

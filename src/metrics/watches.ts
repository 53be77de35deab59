/**
 * Watch streams (the config's `watches` caps): how many are open, by kind,
 * and how many each cap refused. Read from the limiters at scrape time;
 * labels are the stream kind and the cap only, never a client or an address.
 */
import { Counter, Gauge, type Registry } from "prom-client";
import { WATCH_LIMITS, type WatchLimiter } from "../api/watch-limits.js";

/** The limiters each registry reports on: a Metrics reused by a second server reports on the newest. */
const reported = new WeakMap<Registry, readonly WatchLimiter[]>();

export function registerWatchMetrics(registry: Registry, limiters: readonly WatchLimiter[]): void {
  const known = reported.has(registry);
  reported.set(registry, limiters);
  if (known) return;
  const current = () => reported.get(registry) ?? [];
  new Gauge({
    name: "wxtoken_watch_streams",
    help: "Open watch streams, by stream (token: WatchToken and HTTP event streams; health: grpc.health.v1.Health/Watch)",
    labelNames: ["stream"],
    registers: [registry],
    collect() {
      this.reset();
      for (const l of current()) this.set({ stream: l.kind }, l.open);
    },
  });
  new Counter({
    name: "wxtoken_watch_refused_total",
    help: "Watch streams refused with RESOURCE_EXHAUSTED (HTTP 429), by stream and by the cap that refused them (client, connection, total)",
    labelNames: ["stream", "limit"],
    registers: [registry],
    collect() {
      this.reset();
      for (const l of current()) for (const limit of WATCH_LIMITS) this.inc({ stream: l.kind, limit }, l.refused[limit]);
    },
  });
}

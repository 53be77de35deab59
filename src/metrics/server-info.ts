/**
 * What the server itself is and how it is doing, beside its credentials:
 * the build it runs, its config reloads, whether its store takes writes, and
 * its share of the refresh work among the replicas. Labels are fixed values
 * (the package version, Node's, the store kind).
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Counter, Gauge, type Registry } from "prom-client";
import type { Ownership } from "../core/ownership.js";

/** The wxtoken package's version: the nearest package.json named wxtoken above this module (src/ or dist/src/), or "unknown". */
function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let up = 0; up < 6; up++) {
    const file = join(dir, "package.json");
    if (existsSync(file)) {
      try {
        const pkg = JSON.parse(readFileSync(file, "utf8")) as { name?: unknown; version?: unknown };
        if (pkg.name === "wxtoken" && typeof pkg.version === "string") return pkg.version;
      } catch {
        // Not ours, or unreadable: keep looking.
      }
    }
    dir = dirname(dir);
  }
  return "unknown";
}

export class ServerInfoMetrics {
  private readonly reloads: Counter<"result">;
  private readonly lastReloadOk: Gauge;
  private readonly lastReloadSuccess: Gauge;
  private store: { kind: string; writable: () => boolean } | undefined;
  private replicas: { ownership: Pick<Ownership, "liveCount">; counts: () => { held: number; owned: number } } | undefined;

  constructor(
    registry: Registry,
    private readonly now: () => number,
  ) {
    const registers = [registry];
    new Gauge({
      name: "wxtoken_build_info",
      help: "Always 1; the labels say which wxtoken (version) runs on which Node.js (node_version)",
      labelNames: ["version", "node_version"],
      registers,
    }).set({ version: packageVersion(), node_version: process.version }, 1);
    this.reloads = new Counter({
      name: "wxtoken_config_reload_total",
      help: 'Config reloads (SIGHUP) by result: "success" (applied), "failure" (the file did not load or was refused; the running config stays)',
      labelNames: ["result"],
      registers,
    });
    for (const result of ["success", "failure"]) this.reloads.inc({ result }, 0);
    this.lastReloadOk = new Gauge({
      name: "wxtoken_config_last_reload_successful",
      help: "1 when the last config reload (or the config loaded at start) was applied, 0 when it failed",
      registers,
    });
    this.lastReloadSuccess = new Gauge({
      name: "wxtoken_config_last_reload_success_timestamp_seconds",
      help: "When the config was last applied (at start, then each successful reload), in seconds since the epoch",
      registers,
    });
    this.reloaded(true, false);
    const store = () => this.store;
    new Gauge({
      name: "wxtoken_store_writable",
      help: "1 while the token store takes writes, 0 from a write it refused until one lands (readiness follows it), by store kind",
      labelNames: ["store"],
      registers,
      collect() {
        this.reset();
        const s = store();
        if (s) this.set({ store: s.kind }, s.writable() ? 1 : 0);
      },
    });
    const replicas = () => this.replicas;
    new Gauge({
      name: "wxtoken_replicas_live",
      help: "Live replicas this one counts (1 on its own; on Redis, those whose heartbeat is within a lease)",
      registers,
      collect() {
        const r = replicas();
        this.set(r ? r.ownership.liveCount() : 1);
      },
    });
    new Gauge({
      name: "wxtoken_credentials",
      help: "Credentials held: the config's tokens and tickets, the Open Platforms' component tokens and every authorizer's",
      registers,
      collect() {
        this.set(replicas()?.counts().held ?? 0);
      },
    });
    new Gauge({
      name: "wxtoken_replica_owned_credentials",
      help: "Credentials whose refreshes this replica plans (it owns them); summed over the replicas, every credential once",
      registers,
      collect() {
        this.set(replicas()?.counts().owned ?? 0);
      },
    });
  }

  /** The store whose writes wxtoken_store_writable follows. */
  attachStore(kind: string, writable: () => boolean): void {
    this.store = { kind, writable };
  }

  /** The live replicas, and how many credentials are held and owned here (the engine keeps the counts: a scrape costs O(1) at 100,000). */
  attachReplicas(ownership: Pick<Ownership, "liveCount">, counts: () => { held: number; owned: number }): void {
    this.replicas = { ownership, counts };
  }

  /** One config reload: applied or not (`counted` false: the config loaded at start). */
  reloaded(ok: boolean, counted = true): void {
    if (counted) this.reloads.inc({ result: ok ? "success" : "failure" });
    this.lastReloadOk.set(ok ? 1 : 0);
    if (ok) this.lastReloadSuccess.set(this.now() / 1000);
  }
}

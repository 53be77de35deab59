/**
 * What every phase of the scale bench shares: the options, a scratch
 * directory, the platform config keys this build of the server has, and the
 * table being filled in.
 */
import { join } from "node:path";
import { mkdirSync } from "node:fs";
import { parseConfig } from "../../src/config/load.js";
import { COMPONENT_ENV } from "./fake.js";
import { serverConfig } from "./server.js";
import type { Print } from "./measure.js";

export interface ScaleOptions {
  /** Authorizers. */
  n: number;
  quick: boolean;
  /** The time limit of each phase. */
  timeoutMs: number;
  /** How long the server is watched doing nothing. */
  idleMs: number;
  /** The GetToken load: rounds of durationMs per target, after warmupMs. */
  load: { rounds: number; warmupMs: number; durationMs: number };
  /** Seconds the fake's tokens live in the refresh-wave phases; absent: chosen from the restore's duration. */
  waveLifetimeS?: number;
  /** Redis for the replicas phase. */
  redisUrl: string;
  /** The platform's upstream ceiling to configure (maxCallsPerSecond), when the server has the key; absent: its default. */
  ceiling?: number;
}

export class Report {
  readonly rows: Array<{ label: string; value: string }> = [];

  add(label: string, value: string): void {
    this.rows.push({ label, value });
  }

  print(print: Print): void {
    const width = Math.max(...this.rows.map((r) => r.label.length));
    for (const r of this.rows) print(`  ${r.label.padEnd(width)}  ${r.value}`);
  }
}

export interface ServerTraits {
  /** The store the server uses when none is configured. */
  defaultStore: string;
  /** The platform's upstream ceiling (maxCallsPerSecond) as configured, if this build has the key. */
  ceiling: number | undefined;
  /** Extra keys for the platform's config entry. */
  platform: Record<string, unknown>;
}

/** Reads what this build's config schema has, by parsing the bench's own config with it. */
export function serverTraits(ceiling: number | undefined): ServerTraits {
  const parse = (platform: Record<string, unknown>) =>
    parseConfig(serverConfig({ dir: ".", name: "probe", upstreamUrl: "http://127.0.0.1:1", receiverPort: 1, platform }, 1), { env: COMPONENT_ENV });
  const loaded = parse({});
  const entry = loaded.config.openPlatform!.platforms[0] as unknown as Record<string, unknown>;
  const has = typeof entry["maxCallsPerSecond"] === "number";
  const platform = has && ceiling !== undefined ? { maxCallsPerSecond: ceiling } : {};
  if (has) parse(platform); // a bad --ceiling fails here, before anything starts
  return { defaultStore: loaded.config.store.type, ceiling: has ? (ceiling ?? (entry["maxCallsPerSecond"] as number)) : undefined, platform };
}

export interface Ctx {
  o: ScaleOptions;
  /** Scratch directory of this run. */
  dir: string;
  traits: ServerTraits;
  report: Report;
  print: Print;
}

/** A fresh subdirectory of the run's scratch directory. */
export function subdir(ctx: Ctx, name: string): string {
  const d = join(ctx.dir, name);
  mkdirSync(d, { recursive: true });
  return d;
}

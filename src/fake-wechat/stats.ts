/**
 * Request counts, so tests can assert how often the server under test called
 * WeChat, and the busiest second and minute per path, so a bench can tell
 * the peak upstream rate. Keyed by app id, never by anything secret.
 */
import { RateMeter, type RateSnapshot } from "./rates.js";

/** Requests whose app could not be told (no appid, unknown token) count under this key. */
const NO_APP = "";

type PerApp = Map<string, number>;

export interface StatsSnapshot {
  /** path -> { total, byApp } for every request received, faulted ones included. */
  calls: Record<string, { total: number; byApp: Record<string, number> }>;
  /** Token endpoint calls that answered a token, total and per app. */
  successfulTokenCalls: { total: number; byApp: Record<string, number> };
}

export interface RatesSnapshot {
  /** Every request received (faulted ones included). */
  total: RateSnapshot;
  byPath: Record<string, RateSnapshot>;
}

export class CallStats {
  private calls = new Map<string, PerApp>();
  private successes: PerApp = new Map();
  private tagged = new Map<string, PerApp>();
  private rateTotal = new RateMeter();
  private ratesByPath = new Map<string, RateMeter>();

  /** now: the injected clock's time, for the rates. */
  count(path: string, appId: string | undefined, now = Date.now()): void {
    let perApp = this.calls.get(path);
    if (!perApp) this.calls.set(path, (perApp = new Map()));
    bump(perApp, appId ?? NO_APP);
    let meter = this.ratesByPath.get(path);
    if (!meter) this.ratesByPath.set(path, (meter = new RateMeter()));
    meter.record(now);
    this.rateTotal.record(now);
  }

  /** Calls, busiest second and busiest minute since the last reset, in total and per path (not per app: cheap at any number of apps). */
  rates(): RatesSnapshot {
    return { total: this.rateTotal.snapshot(), byPath: Object.fromEntries([...this.ratesByPath].map(([path, m]) => [path, m.snapshot()])) };
  }

  countSuccess(appId: string): void {
    bump(this.successes, appId);
  }

  /** A success of a tagged route ("ticket:jsapi", "wecom-token"), per app or "corpid/agent". */
  countTagged(tag: string, appId: string | undefined): void {
    let perApp = this.tagged.get(tag);
    if (!perApp) this.tagged.set(tag, (perApp = new Map()));
    bump(perApp, appId ?? NO_APP);
  }

  taggedSuccesses(tag: string, appId?: string): number {
    return sum(this.tagged.get(tag), appId);
  }

  callsTo(path: string, appId?: string): number {
    return sum(this.calls.get(path), appId);
  }

  successfulTokenCalls(appId?: string): number {
    return sum(this.successes, appId);
  }

  reset(): void {
    this.calls = new Map();
    this.successes = new Map();
    this.tagged = new Map();
    this.rateTotal = new RateMeter();
    this.ratesByPath = new Map();
  }

  snapshot(): StatsSnapshot {
    const calls: StatsSnapshot["calls"] = {};
    for (const [path, perApp] of this.calls) calls[path] = { total: sum(perApp), byApp: named(perApp) };
    return { calls, successfulTokenCalls: { total: sum(this.successes), byApp: named(this.successes) } };
  }
}

function bump(map: PerApp, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

function sum(map: PerApp | undefined, appId?: string): number {
  if (!map) return 0;
  if (appId !== undefined) return map.get(appId) ?? 0;
  let total = 0;
  for (const n of map.values()) total += n;
  return total;
}

/** Per-app counts as a plain object, the unknown-app bucket left out. */
function named(map: PerApp): Record<string, number> {
  return Object.fromEntries([...map].filter(([k]) => k !== NO_APP));
}

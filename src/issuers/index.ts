/**
 * From the configured apps to the issuers the engine runs: one access_token
 * per Official Account and per WeCom secret, and each ticket an app lists.
 */
import type { Clock } from "../clock.js";
import type { Issuer } from "../core/issuer.js";
import { HourlyLimit } from "../core/quota-guard.js";
import { familyOf, type IssuerDeps } from "./app-families.js";
import type { AppEntry } from "./types.js";

export type { IssuerDeps } from "./app-families.js";

/** The hourly limit under `key`, made once and shared (a corp's limit counts its self-built apps and its suites' apps alike). */
export function sharedLimit(limits: Map<string, HourlyLimit>, key: string, max: number, what: string, clock: Clock): HourlyLimit {
  let l = limits.get(key);
  if (!l || l.limit !== max) limits.set(key, (l = new HourlyLimit(key, max, what, clock)));
  return l;
}

/**
 * Builds the issuers of every app (each family's: app-families.ts). `limits`
 * keeps the shared hourly counts across calls (a reload must not reset them).
 */
export function buildIssuers(apps: readonly AppEntry[], deps: IssuerDeps, limits: Map<string, HourlyLimit>): Issuer[] {
  const limit = (key: string, max: number, what: string) => sharedLimit(limits, key, max, what, deps.clock);
  return apps.flatMap((app) => familyOf(app).issuers(app, deps, limit));
}

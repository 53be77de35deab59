/**
 * From the configured apps to the issuers the engine runs: one access_token
 * per Official Account and per WeCom secret, and each ticket an app lists.
 */
import type { Clock } from "../clock.js";
import type { Issuer } from "../core/issuer.js";
import { HourlyLimit } from "../core/quota-guard.js";
import type { WeChatClient } from "../upstream/wechat-client.js";
import { officialTicketIssuer, officialTokenIssuer } from "./official.js";
import type { AppEntry } from "./types.js";
import { wecomTicketIssuer, wecomTokenIssuer } from "./wecom.js";

export interface IssuerDeps {
  official: WeChatClient;
  wecom: WeChatClient;
  clock: Clock;
  /** Our hourly WeCom ticket limits, under WeChat's 100 per agent and 400 per corp. */
  wecomTicketsPerAgentHour: number;
  wecomTicketsPerCorpHour: number;
}

/** The hourly limit under `key`, made once and shared (a corp's limit counts its self-built apps and its suites' apps alike). */
export function sharedLimit(limits: Map<string, HourlyLimit>, key: string, max: number, what: string, clock: Clock): HourlyLimit {
  let l = limits.get(key);
  if (!l || l.limit !== max) limits.set(key, (l = new HourlyLimit(key, max, what, clock)));
  return l;
}

/**
 * Builds the issuers of every app. `limits` keeps the shared hourly counts
 * across calls (a reload must not reset them).
 */
export function buildIssuers(apps: readonly AppEntry[], deps: IssuerDeps, limits: Map<string, HourlyLimit>): Issuer[] {
  const limit = (key: string, max: number, what: string) => sharedLimit(limits, key, max, what, deps.clock);
  const issuers: Issuer[] = [];
  for (const app of apps) {
    if (app.type === "official") {
      const token = officialTokenIssuer(app, deps.official);
      issuers.push(token);
      for (const t of app.tickets) issuers.push(officialTicketIssuer(app, t, deps.official));
    } else {
      const token = wecomTokenIssuer(app, deps.wecom);
      issuers.push(token);
      const shared = [
        limit(`hour:${app.corpId}/${app.agent}`, deps.wecomTicketsPerAgentHour, `agent ${app.corpId}/${app.agent}`),
        limit(`hour:${app.corpId}`, deps.wecomTicketsPerCorpHour, `corp ${app.corpId}`),
      ];
      for (const t of app.tickets) issuers.push(wecomTicketIssuer(app, t, deps.wecom, shared));
    }
  }
  return issuers;
}

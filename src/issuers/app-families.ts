/**
 * The families of configured apps (an Official Account / Mini Program, a
 * WeCom secret) as one table: how an entry is named, which ids requests and
 * grants use for it, which issuers it makes and which page origins it signs
 * for. The config loader, the issuers, the server and the CLI ask the table
 * instead of switching on the entry's type, so a new family is one entry here.
 */
import type { Clock } from "../clock.js";
import type { Issuer } from "../core/issuer.js";
import type { HourlyLimit } from "../core/quota-guard.js";
import type { WeChatClient } from "../upstream/wechat-client.js";
import { officialTicketIssuer, officialTokenIssuer } from "./official.js";
import type { AppEntry, OfficialApp, WeComApp } from "./types.js";
import { wecomTicketIssuer, wecomTokenIssuer } from "./wecom.js";

export interface IssuerDeps {
  official: WeChatClient;
  wecom: WeChatClient;
  clock: Clock;
  /** Our hourly WeCom ticket limits, under WeChat's 100 per agent and 400 per corp. */
  wecomTicketsPerAgentHour: number;
  wecomTicketsPerCorpHour: number;
}

/** The hourly limit under `key` (made once, shared by every issuer naming it). */
export type LimitOf = (key: string, max: number, what: string) => HourlyLimit;

export interface AppFamily<A extends AppEntry> {
  /** For messages: "Official Account / Mini Program", "WeCom secret". */
  readonly title: string;
  /** What one entry holds, unique in the config: "wx1", "ww1/1000002". */
  entryId(app: A): string;
  /** The config field an entry's duplicate is reported at. */
  readonly entryField: string;
  /** The id requests name the app by (appid or corpid). */
  owner(app: A): string;
  /** The ids a grant may name for the entry. */
  grantIds(app: A): string[];
  /** The credential kinds the entry holds (check-config's summary). */
  kinds(app: A): string[];
  /** Its token and tickets. */
  issuers(app: A, deps: IssuerDeps, limit: LimitOf): Issuer[];
  /** JS-SDK page origins by signing policy key ("appid", "corpid/agent", "corpid" for the corp ticket's holder). */
  origins(app: A): [string, readonly string[]][];
  /** Whether WeChat's clear_quota takes the app's own secret (wxtoken clear-quota). */
  readonly quotaReset: boolean;
}

const official: AppFamily<OfficialApp> = {
  title: "Official Account / Mini Program",
  entryId: (a) => a.appId,
  entryField: "appId",
  owner: (a) => a.appId,
  grantIds: (a) => [a.appId],
  kinds: (a) => ["access_token", ...a.tickets.map((t) => `${t}_ticket`)],
  issuers: (a, deps) => [officialTokenIssuer(a, deps.official), ...a.tickets.map((t) => officialTicketIssuer(a, t, deps.official))],
  origins: (a) => [[a.appId, a.jsSdk.allowedOrigins]],
  quotaReset: true,
};

const wecom: AppFamily<WeComApp> = {
  title: "WeCom secret",
  entryId: (a) => `${a.corpId}/${a.agent}`,
  entryField: "agent",
  owner: (a) => a.corpId,
  grantIds: (a) => [a.corpId, `${a.corpId}/${a.agent}`],
  kinds: (a) => ["access_token", ...a.tickets.map((t) => `${t}_ticket`)],
  issuers: (a, deps, limit) => {
    const shared = [
      limit(`hour:${a.corpId}/${a.agent}`, deps.wecomTicketsPerAgentHour, `agent ${a.corpId}/${a.agent}`),
      limit(`hour:${a.corpId}`, deps.wecomTicketsPerCorpHour, `corp ${a.corpId}`),
    ];
    return [wecomTokenIssuer(a, deps.wecom), ...a.tickets.map((t) => wecomTicketIssuer(a, t, deps.wecom, shared))];
  },
  origins: (a) => [[`${a.corpId}/${a.agent}`, a.jsSdk.allowedOrigins], ...(a.tickets.includes("jsapi") ? [[a.corpId, a.jsSdk.allowedOrigins] as [string, readonly string[]]] : [])],
  quotaReset: false,
};

const APP_FAMILIES: { readonly [T in AppEntry["type"]]: AppFamily<Extract<AppEntry, { type: T }>> } = { official, wecom };

/** The family of an entry (config or loaded: both carry `type`). */
export function familyOf<A extends AppEntry>(app: A): AppFamily<A> {
  return APP_FAMILIES[app.type] as unknown as AppFamily<A>;
}

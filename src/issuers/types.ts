/**
 * The configured apps, as the config loader hands them to the issuers: one
 * entry type per family. Secrets are typed (they print as ***).
 */
import { kindOf, type CredentialKindShortName } from "@wxtoken/client";
import type { CredentialKind } from "../core/credential-id.js";
import type { Secret } from "../secret.js";
import type { TokenEndpoint } from "../upstream/types.js";

/** The tickets an entry may list, by the short names the config uses (the kinds table: kinds.ts). */
export type OfficialTicket = Extract<CredentialKindShortName, "jsapi" | "wx_card">;
export type WeComTicket = Extract<CredentialKindShortName, "jsapi" | "agent_config">;

/** The credential kind of a listed ticket: "jsapi" is the jsapi_ticket. */
export function ticketKind(ticket: OfficialTicket | WeComTicket): CredentialKind {
  return kindOf(ticket)!.name;
}

/** JS-SDK signing rules of an app. */
export interface JsSdkPolicy {
  /** Page origins (scheme://host[:port]) SignJsSdk may sign for; empty = any. */
  allowedOrigins: readonly string[];
}

/** An Official Account or Mini Program. */
export interface OfficialApp {
  readonly type: "official";
  readonly appId: string;
  readonly secret: Secret;
  readonly endpoint: TokenEndpoint;
  readonly tickets: readonly OfficialTicket[];
  readonly jsSdk: JsSdkPolicy;
}

/** One secret of a WeCom corp: a self-built app (agent) or a built-in app. */
export interface WeComApp {
  readonly type: "wecom";
  readonly corpId: string;
  /** The agentid ("1000002") or the built-in app's name ("contacts"). */
  readonly agent: string;
  readonly secret: Secret;
  readonly tickets: readonly WeComTicket[];
  readonly jsSdk: JsSdkPolicy;
}

export type AppEntry = OfficialApp | WeComApp;

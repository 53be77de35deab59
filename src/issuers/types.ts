/**
 * The configured apps, as the config loader hands them to the issuers: one
 * entry type per family. Secrets are typed (they print as ***).
 */
import type { Secret } from "../secret.js";
import type { TokenEndpoint } from "../upstream/types.js";

export type OfficialTicket = "jsapi" | "wx_card";
export type WeComTicket = "jsapi" | "agent_config";

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

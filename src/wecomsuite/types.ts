/**
 * A configured WeCom suite (企业微信第三方应用, or a 代开发 app template) and
 * the provider's own credential, as the config loader hands them over.
 * Secrets are typed (they print as ***).
 */
import type { FamilyFacts } from "../platform/pushed-platform.js";
import type { Secret } from "../secret.js";

/** The WeCom suite family: a suite_ticket pushed every 10 minutes, valid only 30, and no API asks for another. */
export const WECOM_SUITE: FamilyFacts = {
  family: "wecom_suite",
  title: "WeCom suite",
  ticketName: "suite_ticket",
  ticketLifetimeMs: 30 * 60_000,
  pushIntervalMs: 10 * 60_000,
};

export type CorpTicket = "jsapi" | "agent_config";

export interface SuiteEntry {
  readonly suiteId: string;
  /** suite_secret. */
  readonly secret: Secret;
  /** The Token (消息校验Token) the app's pushes are signed with. */
  readonly messageToken: Secret;
  /** The 43-character EncodingAESKey its pushes are encrypted with. */
  readonly encodingAesKey: Secret;
  /** The path of the 指令回调URL on the push receiver. */
  readonly path: string;
  /** A 代开发 template: the permanent code is the corp's app secret (gettoken), not an input of get_corp_token. */
  readonly customApp: boolean;
  /** JS-SDK tickets to hold for every installed corp. */
  readonly corpTickets: readonly CorpTicket[];
  /** Page origins SignJsSdk may sign for the installed corps; empty: any. */
  readonly allowedOrigins: readonly string[];
  /** The provider's own corpid (wecomProviders.provider), when configured: WeCom's URL check may encrypt its echostr for it. */
  readonly providerCorpId?: string;
  /** The receiver's maxClockSkewSeconds, in ms (stored push times further ahead are brought back to now). */
  readonly maxClockSkewMs: number;
  readonly maxCallsPerSecond: number;
  readonly maxConcurrentCalls: number;
  readonly onDemand: boolean;
  readonly idleAfterMs: number;
}

/** The provider's own corpid and, for provider_access_token, its provider_secret. */
export interface ProviderEntry {
  readonly corpId: string;
  readonly secret?: Secret;
}

/** Where WeCom posts a suite's pushes unless the config says otherwise. */
export function defaultSuitePath(suiteId: string): string {
  return `/wechat/wecom/${suiteId}`;
}

/** The InfoTypes a suite acts on (docs/wecom-providers.md); any other is answered `success` and not handled. */
export const SUITE_INFO_TYPES: ReadonlySet<string> = new Set(["suite_ticket", "create_auth", "change_auth", "cancel_auth", "reset_permanent_code"]);

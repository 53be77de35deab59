/**
 * The pushed-ticket platforms as the config loader hands them over: an Open
 * Platform (第三方平台), a WeCom suite (企业微信第三方应用, or a 代开发 app
 * template) and the WeCom provider's own credential. Each family's module
 * (src/openplatform/, src/wecomsuite/) takes its entries from here. Secrets
 * are typed (they print as ***).
 */
import type { OfficialTicket, WeComTicket } from "../issuers/types.js";
import type { Secret } from "../secret.js";

export interface PlatformEntry {
  readonly componentAppId: string;
  /** component_appsecret. */
  readonly secret: Secret;
  /** The message-verification Token (消息校验Token) pushes are signed with. */
  readonly messageToken: Secret;
  /** The 43-character EncodingAESKey (消息加解密Key) pushes are encrypted with. */
  readonly encodingAesKey: Secret;
  /** The path on the push receiver WeChat posts to. */
  readonly path: string;
  /** JS-SDK tickets to hold for every authorizer. */
  readonly authorizerTickets: readonly OfficialTicket[];
  /** Least time between two api_start_push_ticket calls. */
  readonly startPushMinIntervalMs: number;
  /** Least time between two automatic authorizer syncs (api_get_authorizer_list). */
  readonly syncMinIntervalMs: number;
  /** Least time between a sync and one an account's first 61023 calls for. */
  readonly refusedSyncMinIntervalMs: number;
  /**
   * The receiver's maxClockSkewSeconds, in ms: a stored push time further
   * ahead of the clock than this was forged or mis-clocked, and is brought
   * back to now when the platform loads.
   */
  readonly maxClockSkewMs: number;
  /** Upstream calls per second the platform's background work (refreshes, first fetches, retries) may make, across replicas. */
  readonly maxCallsPerSecond: number;
  /** Background upstream calls in flight at once. */
  readonly maxConcurrentCalls: number;
  /** Authorizer tokens (and tickets) held on demand: fetched at the first read, refreshed while read. */
  readonly onDemand: boolean;
  /** On demand: refreshed while read within this long (ms). */
  readonly idleAfterMs: number;
}

/** Where WeChat posts a platform's pushes unless the config says otherwise. */
export function defaultPushPath(componentAppId: string): string {
  return `/wechat/open/${componentAppId}`;
}

/** The JS-SDK tickets a suite may hold for each installed corp. */
export type CorpTicket = WeComTicket;

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

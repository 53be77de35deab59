/**
 * A configured Open Platform (第三方平台), as the config loader hands it over.
 * Secrets are typed (they print as ***).
 */
import type { OfficialTicket } from "../issuers/types.js";
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


/** The InfoTypes an Open Platform acts on (docs/openplatform.md); any other is answered `success` and not handled. */
export const KNOWN_INFO_TYPES: ReadonlySet<string> = new Set(["component_verify_ticket", "authorized", "updateauthorized", "unauthorized"]);

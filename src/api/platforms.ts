/**
 * What ListAuthorizers and SyncAuthorizers show of a pushed-ticket platform
 * (an Open Platform, or a WeCom suite), the same for every transport: times,
 * versions and fingerprints, never a ticket, token, refresh token or
 * permanent code.
 */
import type { CredentialEngine } from "../core/engine.js";
import { FailedPreconditionError, WxTokenError } from "../errors.js";
import type { AuthorizerStatus } from "../platform/store.js";
import type { SyncResult } from "../openplatform/sync.js";
import type { PushedPlatform } from "../platform/pushed-platform.js";
import { encodePageToken, type PageStart } from "./paging.js";

/** A token's public facts, while it is valid. */
export interface TokenFacts {
  version: number;
  fingerprint: string;
  expiresAt: number;
}

export interface AuthorizerView {
  /** The authorizer appid, or the installed corp's corpid. */
  appId: string;
  status: AuthorizerStatus;
  authorizedAt: number;
  token: TokenFacts | undefined;
  /** The reason of the last failed refresh, while it is the last word. */
  lastErrorReason: string | undefined;
}

export interface PlatformView {
  /** The platform's id: the component appid or the suite id. */
  componentAppId: string;
  ticket: { receivedAt: number; expiresAt: number } | undefined;
  /** The platform's own token (component_access_token, suite_access_token). */
  componentToken: TokenFacts | undefined;
  /** One page of them, by appid. */
  authorizers: AuthorizerView[];
  /** "" on the last page. */
  nextPageToken: string;
  /** How many match the page's status filter, in all pages. */
  totalSize: number;
}

export type SyncView = SyncResult & { platform: PlatformView };

/** A platform that can re-read its tenants from WeChat (an Open Platform: api_get_authorizer_list). */
export type SyncablePlatform = PushedPlatform & { sync(): Promise<SyncResult> };

/** Whether the platform's family has a list API to sync from (a WeCom suite has none). */
export function syncable(platform: PushedPlatform): platform is SyncablePlatform {
  return typeof (platform as Partial<SyncablePlatform>).sync === "function";
}

/** No Open Platform or WeCom suite with this id is configured. */
export class UnknownPlatformError extends WxTokenError {
  override readonly name = "UnknownPlatformError";
  readonly reason = "UNKNOWN_PLATFORM";
  readonly category = "not_found";
  constructor(readonly platformId: string) {
    super(`unknown platform "${platformId}": no Open Platform (openPlatform componentAppId) or WeCom suite (wecomProviders suiteId) with this id is configured on this server`);
  }
  /** component_app_id as ListAuthorizers named it before suites existed; platform_id as the other methods name it. */
  override metadata(): Record<string, string> {
    return { component_app_id: this.platformId, platform_id: this.platformId };
  }
}

/** SyncAuthorizers on a platform whose family has no list to read. */
export class SyncNotSupportedError extends FailedPreconditionError {
  constructor(readonly platform: PushedPlatform) {
    super(
      `${platform.facts.title} "${platform.id}" cannot be synced: WeCom has no API that lists a suite's installed corps (each install arrives as a create_auth push, or by AuthorizeByCode)`,
      "SYNC_NOT_SUPPORTED",
    );
  }
  override metadata(): Record<string, string> {
    return { platform_id: this.platform.id, family: this.platform.facts.family };
  }
}

/** The platform and one page of its authorizers: views are built for that page's accounts only. */
export function platformView(platform: PushedPlatform, engine: CredentialEngine, start: PageStart): PlatformView {
  const facts = (key: string): TokenFacts | undefined => {
    const t = engine.byKey(key)?.current();
    return t && { version: t.version, fingerprint: t.fingerprint, expiresAt: t.expiresAt };
  };
  const ticket = platform.heldTicket();
  const page = platform.authorizerPage(start.after, start.limit, start.status);
  const last = page.authorizers.at(-1);
  return {
    componentAppId: platform.id,
    ticket: ticket && { receivedAt: ticket.receivedAt, expiresAt: ticket.expiresAt },
    componentToken: facts(platform.tokenKey),
    authorizers: page.authorizers.map((a) => {
      const key = platform.tenantKey(a.appId);
      return {
        appId: a.appId,
        status: a.status,
        authorizedAt: a.authorizedAt,
        token: facts(key),
        lastErrorReason: engine.byKey(key)?.lastError()?.reason,
      };
    }),
    nextPageToken: page.more && last ? encodePageToken(platform.id, start.status, last.appId) : "",
    totalSize: page.total,
  };
}

/**
 * What ListAuthorizers and SyncAuthorizers show of an Open Platform, the same
 * for every transport: times, versions and fingerprints, never a ticket, token
 * or refresh token.
 */
import type { CredentialEngine } from "../core/engine.js";
import { WxTokenError } from "../errors.js";
import type { AuthorizerStatus } from "../openplatform/store.js";
import type { OpenPlatform, SyncResult } from "../openplatform/platform.js";
import { encodePageToken, type PageStart } from "./paging.js";

/** A token's public facts, while it is valid. */
export interface TokenFacts {
  version: number;
  fingerprint: string;
  expiresAt: number;
}

export interface AuthorizerView {
  appId: string;
  status: AuthorizerStatus;
  authorizedAt: number;
  token: TokenFacts | undefined;
  /** The reason of the last failed refresh, while it is the last word. */
  lastErrorReason: string | undefined;
}

export interface PlatformView {
  componentAppId: string;
  ticket: { receivedAt: number; expiresAt: number } | undefined;
  componentToken: TokenFacts | undefined;
  /** One page of them, by appid. */
  authorizers: AuthorizerView[];
  /** "" on the last page. */
  nextPageToken: string;
  /** How many match the page's status filter, in all pages. */
  totalSize: number;
}

export type SyncView = SyncResult & { platform: PlatformView };

/** No Open Platform with this component appid is configured. */
export class UnknownPlatformError extends WxTokenError {
  override readonly name = "UnknownPlatformError";
  readonly reason = "UNKNOWN_PLATFORM";
  readonly category = "not_found";
  constructor(readonly componentAppId: string) {
    super(`unknown platform "${componentAppId}": no openPlatform with this componentAppId is configured on this server`);
  }
  override metadata(): Record<string, string> {
    return { component_app_id: this.componentAppId };
  }
}

/** The platform and one page of its authorizers: views are built for that page's accounts only. */
export function platformView(platform: OpenPlatform, engine: CredentialEngine, start: PageStart): PlatformView {
  const facts = (key: string): TokenFacts | undefined => {
    const t = engine.byKey(key)?.current();
    return t && { version: t.version, fingerprint: t.fingerprint, expiresAt: t.expiresAt };
  };
  const ticket = platform.heldTicket();
  const page = platform.authorizerPage(start.after, start.limit, start.status);
  const last = page.authorizers.at(-1);
  return {
    componentAppId: platform.componentAppId,
    ticket: ticket && { receivedAt: ticket.receivedAt, expiresAt: ticket.expiresAt },
    componentToken: facts(platform.componentAppId),
    authorizers: page.authorizers.map((a) => ({
      appId: a.appId,
      status: a.status,
      authorizedAt: a.authorizedAt,
      token: facts(a.appId),
      lastErrorReason: engine.byKey(a.appId)?.lastError()?.reason,
    })),
    nextPageToken: page.more && last ? encodePageToken(platform.componentAppId, start.status, last.appId) : "",
    totalSize: page.total,
  };
}

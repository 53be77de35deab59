/**
 * What ListAuthorizers and SyncAuthorizers show of an Open Platform, the same
 * for every transport: times, versions and fingerprints, never a ticket, token
 * or refresh token.
 */
import type { CredentialEngine } from "../core/engine.js";
import { WxTokenError } from "../errors.js";
import type { AuthorizerStatus } from "../openplatform/store.js";
import type { OpenPlatform, SyncResult } from "../openplatform/platform.js";

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
  authorizers: AuthorizerView[];
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

export function platformView(platform: OpenPlatform, engine: CredentialEngine): PlatformView {
  const facts = (key: string): TokenFacts | undefined => {
    const t = engine.byKey(key)?.current();
    return t && { version: t.version, fingerprint: t.fingerprint, expiresAt: t.expiresAt };
  };
  const ticket = platform.heldTicket();
  return {
    componentAppId: platform.componentAppId,
    ticket: ticket && { receivedAt: ticket.receivedAt, expiresAt: ticket.expiresAt },
    componentToken: facts(platform.componentAppId),
    authorizers: platform.listAuthorizers().map((a) => ({
      appId: a.appId,
      status: a.status,
      authorizedAt: a.authorizedAt,
      token: facts(a.appId),
      lastErrorReason: engine.byKey(a.appId)?.lastError()?.reason,
    })),
  };
}

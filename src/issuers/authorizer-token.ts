/**
 * An Open Platform authorizer's authorizer_access_token, bought with the
 * component token and the account's refresh token. A platform may hold
 * 100,000 of them, so one issuer costs one small object: what every account
 * of a platform shares (the source digest, the parent, the check, the
 * client) is made once per platform, and the constant facts live on the
 * prototype.
 */
import type { CredentialId } from "../core/credential-id.js";
import type { FetchContext, Fetched, Issuer } from "../core/issuer.js";
import type { HourlyLimit } from "../core/quota-guard.js";
import { MissingInputError, WeChatError } from "../upstream/errors.js";
import type { WeChatClient } from "../upstream/wechat-client.js";
import { AUTHORIZER_TOKEN_ERRCODES, AUTHORIZER_TOKEN_PATH, SUPERSEDES_AFTER_MS, type ComponentEntry } from "./component.js";
import { sourceDigest } from "./digest.js";
import { fetchWithParent } from "./ticket.js";
import { callbackIpCheck } from "./token-check.js";

/** What an authorizer token issuer asks of its platform. */
export interface RefreshTokenSource {
  /** The stored refresh token (read from the shared store each time); undefined when none is held. */
  refreshTokenOf(appId: string): Promise<string | undefined>;
  /** WeChat answered a new refresh token: replace `previous` with it, atomically. */
  refreshTokenRotated(appId: string, previous: string, next: string): Promise<void>;
  /** A fetch with `refreshToken` worked (clears a needs-reauthorization mark). */
  refreshTokenWorked(appId: string, refreshToken: string): void;
  /** WeChat refused `refreshToken` (61023, 61003). */
  refreshTokenRefused(appId: string, refreshToken: string): void;
}

/** What every authorizer issuer of one platform shares. */
interface Shared {
  readonly platform: ComponentEntry;
  readonly refreshTokens: RefreshTokenSource;
  readonly client: WeChatClient;
  /** The platform's secret, not the refresh token: a rotated refresh token is not a new issuer. */
  readonly source: string;
  readonly parent: CredentialId;
  /** An authorizer's token works on the account's own APIs, getcallbackip included. */
  readonly check: (value: string) => Promise<boolean>;
}

const NO_LIMITS: readonly HourlyLimit[] = [];

class AuthorizerTokenIssuer implements Issuer {
  readonly id: CredentialId;

  constructor(
    private readonly shared: Shared,
    appId: string,
  ) {
    this.id = { appId, kind: "access_token" };
  }

  get parent(): CredentialId {
    return this.shared.parent;
  }
  get source(): string {
    return this.shared.source;
  }
  get endpoint(): string {
    return "component/api_authorizer_token";
  }
  get budget(): "token" {
    return "token";
  }
  get sameValueUntilExpiry(): boolean {
    return false;
  }
  get supersedesAfterMs(): number {
    return SUPERSEDES_AFTER_MS;
  }
  get hourlyLimits(): readonly HourlyLimit[] {
    return NO_LIMITS;
  }
  get check(): (value: string) => Promise<boolean> {
    return this.shared.check;
  }

  fetch(ctx: FetchContext): Promise<Fetched> {
    const { platform, refreshTokens, client } = this.shared;
    const appId = this.id.appId;
    return fetchWithParent(ctx, AUTHORIZER_TOKEN_PATH, `authorizer ${appId}`, async (token) => {
      const refreshToken = await refreshTokens.refreshTokenOf(appId);
      if (refreshToken === undefined) {
        throw new MissingInputError(AUTHORIZER_TOKEN_PATH, "NO_REFRESH_TOKEN", `no refresh token held for authorizer ${appId}: SyncAuthorizers restores it`);
      }
      let body: Record<string, unknown>;
      try {
        body = await client.request(AUTHORIZER_TOKEN_PATH, {
          query: { component_access_token: token },
          body: { component_appid: platform.componentAppId, authorizer_appid: appId, authorizer_refresh_token: refreshToken },
          redact: [token, refreshToken],
          errcodes: AUTHORIZER_TOKEN_ERRCODES,
          signal: ctx.signal,
          timeoutFactor: ctx.timeoutFactor,
        });
      } catch (err) {
        if (err instanceof WeChatError && err.reason === "NEEDS_REAUTHORIZATION") refreshTokens.refreshTokenRefused(appId, refreshToken);
        throw err;
      }
      const fetched = client.valueOf(AUTHORIZER_TOKEN_PATH, body, "authorizer_access_token", [token, refreshToken]);
      const next = body["authorizer_refresh_token"];
      if (typeof next === "string" && next !== "" && next !== refreshToken) {
        await refreshTokens.refreshTokenRotated(appId, refreshToken, next);
      } else {
        refreshTokens.refreshTokenWorked(appId, refreshToken);
      }
      return fetched;
    });
  }
}

/** The issuer maker of one platform's authorizers: `(appId) => Issuer`. */
export function authorizerTokenIssuers(platform: ComponentEntry, refreshTokens: RefreshTokenSource, client: WeChatClient): (appId: string) => Issuer {
  const shared: Shared = {
    platform,
    refreshTokens,
    client,
    source: sourceDigest(platform.secret, "authorizer", platform.componentAppId),
    parent: { appId: platform.componentAppId, kind: "access_token" },
    check: callbackIpCheck(client),
  };
  return (appId) => new AuthorizerTokenIssuer(shared, appId);
}

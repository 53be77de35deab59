/**
 * Open Platform (第三方平台) credentials: the component_access_token (bought
 * with the newest pushed component_verify_ticket) and each authorizer's
 * authorizer_access_token (bought with the component token and the
 * authorizer's refresh token). The platform (src/openplatform/platform.ts)
 * holds the ticket and the refresh tokens; these issuers only ask it.
 */
import type { CredentialId } from "../core/credential-id.js";
import type { Issuer } from "../core/issuer.js";
import type { Secret } from "../secret.js";
import { MissingInputError, WeChatError, type ErrcodeTable } from "../upstream/errors.js";
import type { WeChatClient } from "../upstream/wechat-client.js";
import { sourceDigest } from "./digest.js";
import { fetchWithParent } from "./ticket.js";
import { callbackIpCheck } from "./token-check.js";

export const COMPONENT_TOKEN_PATH = "/cgi-bin/component/api_component_token";
export const AUTHORIZER_TOKEN_PATH = "/cgi-bin/component/api_authorizer_token";

/** A new component or authorizer token leaves the previous one working this long (as /cgi-bin/token does). */
export const SUPERSEDES_AFTER_MS = 300_000;

const COMMON: ErrcodeTable = {
  [-1]: { kind: "transient", meaning: "system busy" },
  40013: { kind: "permanent", meaning: "invalid component appid" },
  41002: { kind: "permanent", meaning: "component appid missing" },
  45009: { kind: "quota", meaning: "daily quota reached" },
  45011: { kind: "quota", meaning: "API rate limit reached" },
  47001: { kind: "permanent", meaning: "malformed request body" },
  61004: { kind: "admin", meaning: "caller IP not in the platform's IP whitelist" },
};

/** What api_component_token's errcodes mean. */
export const COMPONENT_TOKEN_ERRCODES: ErrcodeTable = {
  ...COMMON,
  40125: { kind: "permanent", meaning: "invalid component appsecret" },
  41004: { kind: "permanent", meaning: "component appsecret missing" },
  // The platform asks WeChat to push a new ticket and retries when it arrives.
  61005: { kind: "transient", meaning: "component_verify_ticket expired", reason: "VERIFY_TICKET_EXPIRED" },
  61006: { kind: "transient", meaning: "component_verify_ticket invalid", reason: "VERIFY_TICKET_INVALID" },
};

/** What api_authorizer_token's (and the other calls made with the component token) errcodes mean. */
export const AUTHORIZER_TOKEN_ERRCODES: ErrcodeTable = {
  ...COMMON,
  // A stale component token: it is compare-and-refreshed, and the call retried once.
  40001: { kind: "transient", meaning: "component_access_token invalid or not latest" },
  40014: { kind: "transient", meaning: "invalid component_access_token" },
  41001: { kind: "permanent", meaning: "component_access_token missing" },
  42001: { kind: "transient", meaning: "component_access_token expired" },
  // The account's tokens went with its authorization: the one held is not served any longer (nor its tickets).
  61003: { kind: "permanent", meaning: "the account has not authorized the platform", reason: "NEEDS_REAUTHORIZATION", revokesValue: true },
  61023: { kind: "permanent", meaning: "authorizer refresh token invalid: the account must authorize again", reason: "NEEDS_REAUTHORIZATION", revokesValue: true },
};

/** What the component token issuer asks of its platform. */
export interface TicketSource {
  /** The newest verify ticket WeChat has not refused, if still valid; else undefined (and a push is requested). */
  usableTicket(): Promise<string | undefined>;
  /** WeChat refused the ticket (61005/61006): do not use it again, ask for a new push. */
  ticketRefused(ticket: string): void;
}

export interface ComponentEntry {
  readonly componentAppId: string;
  readonly secret: Secret;
}

export function componentTokenIssuer(platform: ComponentEntry, tickets: TicketSource, client: WeChatClient): Issuer {
  const id: CredentialId = { appId: platform.componentAppId, kind: "access_token" };
  return {
    id,
    endpoint: "component/api_component_token",
    source: sourceDigest(platform.secret, "component"),
    budget: "token",
    sameValueUntilExpiry: false,
    supersedesAfterMs: SUPERSEDES_AFTER_MS,
    hourlyLimits: [],
    fetch: async (ctx) => {
      const ticket = await tickets.usableTicket();
      if (ticket === undefined) {
        throw new MissingInputError(
          COMPONENT_TOKEN_PATH,
          "NO_VERIFY_TICKET",
          "no valid component_verify_ticket held yet: WeChat pushes one every 10 minutes to the authorization event URL (a push was requested)",
        );
      }
      const secret = platform.secret.reveal();
      try {
        const body = await client.request(COMPONENT_TOKEN_PATH, {
          body: { component_appid: platform.componentAppId, component_appsecret: secret, component_verify_ticket: ticket },
          redact: [secret, ticket],
          errcodes: COMPONENT_TOKEN_ERRCODES,
          signal: ctx.signal,
          timeoutFactor: ctx.timeoutFactor,
        });
        return client.valueOf(COMPONENT_TOKEN_PATH, body, "component_access_token", [secret, ticket]);
      } catch (err) {
        if (err instanceof WeChatError && (err.errcode === 61005 || err.errcode === 61006)) tickets.ticketRefused(ticket);
        throw err;
      }
    },
  };
}

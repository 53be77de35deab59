/**
 * Official Account / Mini Program credentials: the access_token (GET
 * /cgi-bin/token or POST /cgi-bin/stable_token) and the JS-SDK tickets
 * derived from it (GET /cgi-bin/ticket/getticket, type jsapi or wx_card).
 */
import type { CredentialId } from "../core/credential-id.js";
import type { Issuer } from "../core/issuer.js";
import type { ErrcodeTable } from "../upstream/errors.js";
import type { WeChatClient } from "../upstream/wechat-client.js";
import { sourceDigest } from "./digest.js";
import { fetchWithParent } from "./ticket.js";
import { callbackIpCheck } from "./token-check.js";
import { ticketKind, type OfficialApp, type OfficialTicket } from "./types.js";

/** stable_token only issues the next token in the last 5 minutes of the current one. */
const STABLE_TOKEN_MAX_MARGIN_MS = 240_000;

export function officialTokenIssuer(app: OfficialApp, client: WeChatClient): Issuer {
  return {
    id: { appId: app.appId, kind: "access_token" },
    endpoint: app.endpoint,
    source: sourceDigest(app.secret, app.endpoint),
    budget: "token",
    maxMarginMs: app.endpoint === "stable_token" ? STABLE_TOKEN_MAX_MARGIN_MS : undefined,
    // /cgi-bin/token issues a new token every call; stable_token repeats it until its last minutes.
    sameValueUntilExpiry: false,
    // ...and the token it replaces works 5 more minutes, then answers 40001.
    supersedesAfterMs: app.endpoint === "token" ? 300_000 : undefined,
    hourlyLimits: [],
    fetch: async (ctx) => {
      const t = await client.fetchToken(
        { appId: app.appId, secret: app.secret, endpoint: app.endpoint },
        { forceRefresh: ctx.force, signal: ctx.signal, timeoutFactor: ctx.timeoutFactor },
      );
      return { value: t.accessToken, expiresIn: t.expiresIn };
    },
    check: callbackIpCheck(client),
  };
}

/** What getticket's errcodes mean. 40001/40014/42001 first cost a parent refresh and one retry. */
export const OFFICIAL_TICKET_ERRCODES: ErrcodeTable = {
  [-1]: { kind: "transient", meaning: "system busy" },
  40001: { kind: "transient", meaning: "access_token invalid or not latest" },
  40014: { kind: "transient", meaning: "invalid access_token" },
  42001: { kind: "transient", meaning: "access_token expired" },
  41001: { kind: "permanent", meaning: "access_token missing" },
  40097: { kind: "permanent", meaning: "invalid arguments (ticket type)" },
  45009: { kind: "quota", meaning: "daily ticket fetch limit reached" },
  48001: { kind: "permanent", meaning: "API unauthorized (the account has no JS-SDK / card permission)" },
  50002: { kind: "permanent", meaning: "account restricted" },
};

const GETTICKET = "/cgi-bin/ticket/getticket";

export function officialTicketIssuer(app: OfficialApp, type: OfficialTicket, client: WeChatClient): Issuer {
  const id: CredentialId = { appId: app.appId, kind: ticketKind(type) };
  return {
    id,
    parent: { appId: app.appId, kind: "access_token" },
    endpoint: `ticket/getticket?type=${type}`,
    source: sourceDigest(app.secret, app.endpoint, type),
    budget: "ticket",
    sameValueUntilExpiry: true,
    hourlyLimits: [],
    fetch: (ctx) =>
      fetchWithParent(ctx, GETTICKET, `${type} ticket`, async (token) => {
        const body = await client.request(GETTICKET, {
          query: { access_token: token, type },
          redact: [token],
          errcodes: OFFICIAL_TICKET_ERRCODES,
          signal: ctx.signal,
          timeoutFactor: ctx.timeoutFactor,
        });
        return client.valueOf(GETTICKET, body, "ticket", [token]);
      }),
  };
}

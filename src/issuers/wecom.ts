/**
 * WeCom (企业微信) credentials: one access_token per secret under a corp
 * (GET /cgi-bin/gettoken on WeCom's own host), the corp jsapi ticket (GET
 * /cgi-bin/get_jsapi_ticket) and an agent's agent_config ticket (GET
 * /cgi-bin/ticket/get?type=agent_config). WeCom's errcodes differ from the
 * Official Account's: 40001 from gettoken is a wrong secret, never a stale token.
 */
import type { CredentialId } from "../core/credential-id.js";
import type { FetchContext, Fetched, Issuer } from "../core/issuer.js";
import type { HourlyLimit } from "../core/quota-guard.js";
import type { ErrcodeTable } from "../upstream/errors.js";
import type { WeChatClient } from "../upstream/wechat-client.js";
import { sourceDigest } from "./digest.js";
import { fetchWithParent } from "./ticket.js";
import { callbackIpCheck } from "./token-check.js";
import { ticketKind, type WeComApp, type WeComTicket } from "./types.js";

const untilNextHour = (now: number) => Math.floor(now / 3600_000) * 3600_000 + 3600_000 - now;

/** What gettoken's errcodes mean. */
const WECOM_TOKEN_ERRCODES: ErrcodeTable = {
  [-1]: { kind: "transient", meaning: "system busy" },
  40001: { kind: "permanent", meaning: "invalid secret (WeCom)" },
  40013: { kind: "permanent", meaning: "invalid corpid" },
  40091: { kind: "permanent", meaning: "invalid secret" },
  41002: { kind: "permanent", meaning: "corpid missing" },
  41004: { kind: "permanent", meaning: "secret missing" },
  45009: { kind: "quota", meaning: "API call frequency limit", retryMs: () => 60_000 },
  45033: { kind: "quota", meaning: "too many concurrent calls", retryMs: () => 60_000 },
  48002: { kind: "permanent", meaning: "API forbidden for this app" },
  60020: { kind: "admin", meaning: "caller IP not in the app's trusted IPs" },
  301002: { kind: "permanent", meaning: "access_token and agentid mismatch (a token of another agent)" },
};

/** What the ticket endpoints' errcodes mean. 40001/40014/42001 first cost a parent refresh and one retry. */
const WECOM_TICKET_ERRCODES: ErrcodeTable = {
  [-1]: { kind: "transient", meaning: "system busy" },
  40001: { kind: "transient", meaning: "access_token invalid" },
  40014: { kind: "transient", meaning: "invalid access_token" },
  42001: { kind: "transient", meaning: "access_token expired" },
  41001: { kind: "permanent", meaning: "access_token missing" },
  40097: { kind: "permanent", meaning: "invalid arguments (ticket type)" },
  45009: { kind: "quota", meaning: "hourly ticket fetch limit reached", retryMs: untilNextHour },
  45033: { kind: "quota", meaning: "too many concurrent calls", retryMs: () => 60_000 },
  48002: { kind: "permanent", meaning: "API forbidden for this app" },
  60020: { kind: "admin", meaning: "caller IP not in the app's trusted IPs" },
  301002: { kind: "permanent", meaning: "access_token and agentid mismatch (a token of another agent)" },
};

const GETTOKEN = "/cgi-bin/gettoken";

export function wecomTokenIssuer(app: WeComApp, client: WeChatClient): Issuer {
  return {
    id: { appId: app.corpId, agent: app.agent, kind: "access_token" },
    endpoint: "gettoken",
    source: sourceDigest(app.secret),
    budget: "token",
    // WeCom answers the same token while it is valid (and may cut it early: ForceRefresh).
    sameValueUntilExpiry: true,
    hourlyLimits: [],
    fetch: async (ctx) => {
      const secret = app.secret.reveal();
      const body = await client.request(GETTOKEN, {
        query: { corpid: app.corpId, corpsecret: secret },
        redact: [secret],
        errcodes: WECOM_TOKEN_ERRCODES,
        signal: ctx.signal,
        timeoutFactor: ctx.timeoutFactor,
      });
      return client.valueOf(GETTOKEN, body, "access_token", [secret]);
    },
    // WeCom has getcallbackip too, on its own host (the client's).
    check: callbackIpCheck(client),
  };
}

/**
 * The corp jsapi ticket belongs to the corp (its id has no agent) but is
 * fetched with the token of the entry that lists it; the agent ticket belongs
 * to the agent. Both count against the agent's and the corp's hourly limits.
 */
export function wecomTicketIssuer(app: WeComApp, type: WeComTicket, client: WeChatClient, limits: readonly HourlyLimit[]): Issuer {
  const id: CredentialId =
    type === "jsapi" ? { appId: app.corpId, kind: ticketKind(type) } : { appId: app.corpId, agent: app.agent, kind: ticketKind(type) };
  return {
    id,
    // The token of the entry that lists it (the corp jsapi ticket too).
    parent: { appId: app.corpId, agent: app.agent, kind: "access_token" },
    endpoint: wecomTicketEndpoint(type),
    source: sourceDigest(app.secret, app.agent, type),
    budget: "ticket",
    sameValueUntilExpiry: true,
    hourlyLimits: limits,
    fetch: (ctx) => fetchWeComTicket(client, type, ctx),
  };
}

/** A WeCom ticket's endpoint, for logs and metrics. */
export function wecomTicketEndpoint(type: WeComTicket): string {
  return type === "jsapi" ? "get_jsapi_ticket" : "ticket/get?type=agent_config";
}

/**
 * One fetch of a WeCom JS-SDK ticket with the issuer's parent token (a
 * self-built agent's, or an installed corp's through a suite): the corp
 * ticket (wx.config) or the app's agent_config ticket (wx.agentConfig).
 */
export function fetchWeComTicket(client: WeChatClient, type: WeComTicket, ctx: FetchContext): Promise<Fetched> {
  const path = type === "jsapi" ? "/cgi-bin/get_jsapi_ticket" : "/cgi-bin/ticket/get";
  const query: Record<string, string> = type === "jsapi" ? {} : { type: "agent_config" };
  return fetchWithParent(ctx, path, `${type} ticket`, async (token) => {
    const body = await client.request(path, {
      query: { ...query, access_token: token },
      redact: [token],
      errcodes: WECOM_TICKET_ERRCODES,
      signal: ctx.signal,
      timeoutFactor: ctx.timeoutFactor,
    });
    return client.valueOf(path, body, "ticket", [token]);
  });
}

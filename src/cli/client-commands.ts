/** `wxtoken get | refresh | watch | sign`: small clients of a running server, on the client library. */
import type { ListAuthorizersResponse, Token } from "../../generated/wxtoken/v1/token_service.js";
import {
  clientChannelCredentials,
  clientOptions,
  TokenClient,
  type AuthorizerStatusName,
  type ClientAuthOptions,
  type CredentialKindName,
  type SignatureKindName,
  type TokenClientOptions,
  type Which,
} from "@wxtoken/client";
import { UsageError } from "./flags.js";

export { DEFAULT_ADDR } from "./commands.js";

/** Plaintext without TLS flags; the API key, if any, goes with every call. */
export function tokenClientOptions(auth: ClientAuthOptions, timeoutMs?: number): TokenClientOptions {
  return { credentials: clientChannelCredentials(auth), channelOptions: clientOptions(auth), timeoutMs };
}

const KINDS: Record<string, CredentialKindName> = {
  token: "access_token",
  access_token: "access_token",
  jsapi: "jsapi_ticket",
  jsapi_ticket: "jsapi_ticket",
  wx_card: "wx_card_ticket",
  wx_card_ticket: "wx_card_ticket",
  agent_config: "agent_config_ticket",
  agent_config_ticket: "agent_config_ticket",
};

/** The wire CredentialKind of a ticket, by number, as --kind names it. */
const TICKET_NAMES: Record<number, string> = { 2: "jsapi", 3: "wx_card", 4: "agent_config" };

/** --kind and --agent as the client library takes them. */
export function parseWhich(kind: string | undefined, agent: string | undefined): Which {
  const k = kind === undefined ? "access_token" : KINDS[kind];
  if (k === undefined) throw new UsageError(`--kind must be token, jsapi, wx_card or agent_config, got "${kind!.slice(0, 40)}"`);
  return agent === undefined ? { kind: k } : { kind: k, agent };
}

function printable(t: Token): Record<string, unknown> {
  return {
    app_id: t.appId,
    ...(t.agent ? { agent: t.agent } : {}),
    ...(t.kind !== undefined && TICKET_NAMES[t.kind] ? { kind: TICKET_NAMES[t.kind] } : {}),
    access_token: t.accessToken,
    version: t.version,
    fingerprint: t.fingerprint,
    obtained_at: t.obtainedAt?.toISOString(),
    expires_at: t.expiresAt?.toISOString(),
    refresh_at: t.refreshAt?.toISOString(),
  };
}

/** Runs a call and closes the client; a failure propagates to main, which reports it (failures.ts). */
async function withClient<T>(addr: string, options: TokenClientOptions, run: (client: TokenClient) => Promise<T>): Promise<T> {
  const client = new TokenClient(addr, options);
  try {
    return await run(client);
  } finally {
    client.close();
  }
}


export async function getCommand(addr: string, appId: string, timeoutMs: number, auth: ClientAuthOptions = {}, which: Which = {}): Promise<void> {
  const token = await withClient(addr, tokenClientOptions(auth, timeoutMs), (c) => c.getToken(appId, which));
  process.stdout.write(JSON.stringify(printable(token), null, 2) + "\n");
}

export async function refreshCommand(addr: string, appId: string, stale: string, timeoutMs: number, auth: ClientAuthOptions = {}, which: Which = {}): Promise<void> {
  const res = await withClient(addr, tokenClientOptions(auth, timeoutMs), (c) => c.forceRefresh(appId, stale, which));
  process.stdout.write(JSON.stringify({ refreshed: res.refreshed, token: printable(res.token) }, null, 2) + "\n");
}

/** Prints one JSON line per token until Ctrl-C or the server ends the stream. */
export async function watchCommand(
  addr: string,
  appId: string,
  known: { version: number; fingerprint: string },
  auth: ClientAuthOptions = {},
  which: Which = {},
): Promise<void> {
  const stop = new AbortController();
  process.once("SIGINT", () => stop.abort());
  await withClient(addr, tokenClientOptions(auth), async (c) => {
    for await (const token of c.watch(appId, { ...which, knownVersion: known.version, knownFingerprint: known.fingerprint, signal: stop.signal })) {
      process.stdout.write(JSON.stringify(printable(token)) + "\n");
    }
  });
}

const SIGNATURE_KINDS: readonly SignatureKindName[] = ["config", "agent_config", "card"];

/** Prints what a page passes to wx.config / wx.agentConfig (or a card call). */
export async function signCommand(
  addr: string,
  appId: string,
  url: string,
  timeoutMs: number,
  auth: ClientAuthOptions,
  opts: { kind?: string; agent?: string; card: string[] },
): Promise<void> {
  const kind = (opts.kind ?? "config") as SignatureKindName;
  if (!SIGNATURE_KINDS.includes(kind)) throw new UsageError(`sign --kind must be config, agent_config or card, got "${kind.slice(0, 40)}"`);
  if (kind !== "card" && url === "") throw new UsageError("sign needs the page URL after APP");
  const s = await withClient(addr, tokenClientOptions(auth, timeoutMs), (c) => c.signJsSdk(appId, url, { kind, agent: opts.agent, cardValues: opts.card }));
  const out =
    kind === "agent_config"
      ? { corpid: s.appId, agentid: s.agent, timestamp: s.timestamp, nonceStr: s.nonceStr, signature: s.signature }
      : kind === "card"
        ? { timestamp: s.timestamp, nonceStr: s.nonceStr, cardSign: s.signature }
        : { appId: s.appId, timestamp: s.timestamp, nonceStr: s.nonceStr, signature: s.signature };
  process.stdout.write(JSON.stringify({ ...out, url: s.url, ticket_version: s.ticketVersion, ticket_fingerprint: s.ticketFingerprint }, null, 2) + "\n");
}

const STATUS_NAMES: Record<number, string> = { 1: "active", 2: "needs_reauthorization" };

export interface PlatformCommandOptions {
  /** Re-read the authorizer list from WeChat first. */
  sync: boolean;
  /** --status: only the authorizers with this status. */
  status?: string;
  /** --page-size / --page-token: print that one page (with its next_page_token) instead of all. */
  pageSize?: number;
  pageToken?: string;
}

/** Pages of this size when printing them all: the server's largest. */
const ALL_PAGE_SIZE = 1000;

type Authorizers = ListAuthorizersResponse["authorizers"];

/** One page (`page`), or every page in turn; the platform's own facts come from the first. */
async function listed(c: TokenClient, componentAppId: string, opts: PlatformCommandOptions, status: AuthorizerStatusName | undefined) {
  const onePage = opts.pageSize !== undefined || opts.pageToken !== undefined;
  const first = await c.listAuthorizers(componentAppId, { status, pageSize: onePage ? opts.pageSize : ALL_PAGE_SIZE, pageToken: opts.pageToken });
  if (onePage) return { p: first, authorizers: first.authorizers, next: first.nextPageToken };
  const authorizers: Authorizers = [...first.authorizers];
  for (let token = first.nextPageToken; token !== ""; ) {
    const page = await c.listAuthorizers(componentAppId, { status, pageSize: ALL_PAGE_SIZE, pageToken: token });
    authorizers.push(...page.authorizers);
    token = page.nextPageToken;
  }
  return { p: first, authorizers, next: undefined };
}

/**
 * Prints an Open Platform's state (with --sync: after re-reading the
 * authorizer list from WeChat): every authorizer, read page by page, or one
 * page with --page-size / --page-token.
 */
export async function platformCommand(addr: string, componentAppId: string, timeoutMs: number, auth: ClientAuthOptions, opts: PlatformCommandOptions): Promise<void> {
  const given = opts.status;
  if (given !== undefined && given !== "active" && given !== "needs_reauthorization") {
    throw new UsageError(`--status must be active or needs_reauthorization, got "${given.slice(0, 40)}"`);
  }
  const status: AuthorizerStatusName | undefined = given;
  const out = await withClient(addr, tokenClientOptions(auth, timeoutMs), async (c) => {
    const synced = opts.sync ? await c.syncAuthorizers(componentAppId) : undefined;
    const { p, authorizers, next } = await listed(c, componentAppId, opts, status);
    return {
      component_app_id: p.componentAppId,
      verify_ticket: p.verifyTicketExpiresAt ? { received_at: p.verifyTicketReceivedAt?.toISOString(), expires_at: p.verifyTicketExpiresAt.toISOString() } : null,
      component_token: p.componentTokenVersion ? { version: p.componentTokenVersion, fingerprint: p.componentTokenFingerprint, expires_at: p.componentTokenExpiresAt?.toISOString() } : null,
      total_size: p.totalSize,
      authorizers: authorizers.map((a) => ({
        app_id: a.appId,
        status: STATUS_NAMES[a.status] ?? String(a.status),
        authorized_at: a.authorizedAt?.toISOString(),
        token: a.tokenVersion ? { version: a.tokenVersion, fingerprint: a.tokenFingerprint, expires_at: a.tokenExpiresAt?.toISOString() } : null,
        ...(a.lastErrorReason ? { last_error: a.lastErrorReason } : {}),
      })),
      ...(next !== undefined ? { next_page_token: next } : {}),
      ...(synced ? { sync: { restored: synced.restored, updated: synced.updated, unchanged: synced.unchanged, missing: synced.missing } } : {}),
    };
  });
  process.stdout.write(JSON.stringify(out, null, 2) + "\n");
}

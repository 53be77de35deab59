/**
 * `wxtoken get | refresh | watch | sign | platform | authorize`: small clients of a
 * running server, on the client library. They print what the HTTP API
 * answers for the same call (proto3 JSON: src/http/proto-json.ts), so a script can
 * switch between the two.
 */
import type { ListAuthorizersResponse } from "../../generated/wxtoken/v1/token_service.js";
import {
  clientChannelCredentials,
  clientOptions,
  CREDENTIAL_KIND_TABLE,
  kindOf,
  TokenClient,
  type AuthorizerStatusName,
  type ClientAuthOptions,
  type SignatureKindName,
  type TokenClientOptions,
  type Which,
} from "@wxtoken/client";
import { readFileSync } from "node:fs";
import { authorizedJson, forceRefreshJson, getTokenJson, platformJson, signatureJson, syncJson } from "../http/proto-json.js";
import { UsageError } from "./flags.js";

export { DEFAULT_ADDR } from "./commands.js";

/** Plaintext without TLS flags; the API key, if any, goes with every call. */
export function tokenClientOptions(auth: ClientAuthOptions, timeoutMs?: number): TokenClientOptions {
  return { credentials: clientChannelCredentials(auth), channelOptions: clientOptions(auth), timeoutMs };
}

/** --kind, --agent and --platform as the client library takes them: a kind in any spelling (kinds.ts). */
export function parseWhich(kind: string | undefined, agent: string | undefined, platform?: string): Which {
  const k = kind === undefined ? "access_token" : kindOf(kind)?.name;
  if (k === undefined) {
    const valid = CREDENTIAL_KIND_TABLE.map((row) => row.short).join(", ");
    throw new UsageError(`--kind must be one of ${valid} (or their long or enum names: jsapi_ticket, CREDENTIAL_KIND_JSAPI_TICKET), got "${kind!.slice(0, 40)}"`);
  }
  return { kind: k, ...(agent === undefined ? {} : { agent }), ...(platform === undefined ? {} : { platformId: platform }) };
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
  process.stdout.write(JSON.stringify(getTokenJson({ token }), null, 2) + "\n");
}

export async function refreshCommand(addr: string, appId: string, stale: string, timeoutMs: number, auth: ClientAuthOptions = {}, which: Which = {}): Promise<void> {
  const res = await withClient(addr, tokenClientOptions(auth, timeoutMs), (c) => c.forceRefresh(appId, stale, which));
  process.stdout.write(JSON.stringify(forceRefreshJson(res), null, 2) + "\n");
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
      process.stdout.write(JSON.stringify(getTokenJson({ token })) + "\n");
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
  opts: { kind?: string; agent?: string; platform?: string; card: string[] },
): Promise<void> {
  const kind = (opts.kind ?? "config") as SignatureKindName;
  if (!SIGNATURE_KINDS.includes(kind)) throw new UsageError(`sign --kind must be config, agent_config or card, got "${kind.slice(0, 40)}"`);
  if (kind !== "card" && url === "") throw new UsageError("sign needs the page URL after APP");
  const s = await withClient(addr, tokenClientOptions(auth, timeoutMs), (c) => c.signJsSdk(appId, url, { kind, agent: opts.agent, platformId: opts.platform, cardValues: opts.card }));
  process.stdout.write(JSON.stringify(signatureJson(s), null, 2) + "\n");
}

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
  // As the HTTP API answers: the platform (ListAuthorizers, every page in one), or with --sync SyncAuthorizers' answer holding it.
  const out = await withClient(addr, tokenClientOptions(auth, timeoutMs), async (c) => {
    const synced = opts.sync ? await c.syncAuthorizers(componentAppId) : undefined;
    const { p, authorizers, next } = await listed(c, componentAppId, opts, status);
    const platform = { ...p, authorizers, nextPageToken: next ?? "" };
    return synced ? syncJson({ ...synced, platform }) : platformJson(platform);
  });
  process.stdout.write(JSON.stringify(out, null, 2) + "\n");
}

/**
 * Hands the server an authorization code from a redirect_uri (AuthorizeByCode)
 * and prints the tenant it authorized, as the HTTP API answers. "-" reads the
 * code from stdin (a code on the command line shows in ps while it runs).
 */
export async function authorizeCommand(addr: string, platformId: string, code: string, timeoutMs: number, auth: ClientAuthOptions = {}): Promise<void> {
  const authCode = code === "-" ? readFileSync(0, "utf8").trim() : code;
  if (authCode === "") throw new UsageError("authorize needs a non-empty --code (or --code - with the code on stdin)");
  const res = await withClient(addr, tokenClientOptions(auth, timeoutMs), (c) => c.authorizeByCode(platformId, authCode));
  process.stdout.write(JSON.stringify(authorizedJson(res), null, 2) + "\n");
}

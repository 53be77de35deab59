/**
 * The passive refresh, done once and right: run a WeChat call with the token;
 * if WeChat rejects the token itself, report exactly that token to the server
 * (compare-and-refresh, so a storm of callers costs one upstream refresh) and
 * retry once with the token it answers. Peers that retry unconditionally, or
 * up to three times, are how refresh storms start.
 */
import type { Token } from "../../generated/wxtoken/v1/token_service.js";
import { WeChatError } from "../upstream/errors.js";
import { TokenClient } from "./token-client.js";
import type { TokenSource } from "./token-source.js";

/** WeChat's answers for a token that is stale (40001), unknown (40014) or expired (42001). */
export const STALE_TOKEN_ERRCODES: ReadonlySet<number> = new Set([40001, 40014, 42001]);

export interface WithTokenOptions {
  /** Passed to GetToken and ForceRefresh (not to fn: close over your own signal there). */
  signal?: AbortSignal;
  /** Called before the retry: what WeChat said, and the token the retry will use. */
  onRetry?: (rejected: WeChatError | StaleTokenLike, fresh: Token) => void;
}

/** An error from another WeChat client that carries WeChat's errcode. */
export interface StaleTokenLike {
  errcode: number;
}

/**
 * True for an error saying WeChat rejected the access_token: a WeChatError, or
 * any error with a numeric `errcode` (so other WeChat SDKs' errors work too),
 * with errcode 40001, 40014 or 42001.
 */
export function isStaleTokenError(err: unknown): err is WeChatError | StaleTokenLike {
  if (err instanceof WeChatError) return STALE_TOKEN_ERRCODES.has(err.errcode);
  const errcode = (err as { errcode?: unknown } | null | undefined)?.errcode;
  return typeof errcode === "number" && STALE_TOKEN_ERRCODES.has(errcode);
}

/**
 * Runs fn(accessToken). When it fails with a stale-token errcode, calls
 * ForceRefresh with the token that failed and runs fn once more with the token
 * the server answers; that second attempt's outcome is final. Any other error
 * (and a failing ForceRefresh) passes through unchanged.
 *
 * With a TokenSource the token comes from memory and the refreshed token is
 * adopted by the source at once; with a TokenClient each call asks GetToken.
 */
export async function withToken<T>(
  from: TokenSource | TokenClient,
  appId: string,
  fn: (accessToken: string) => Promise<T>,
  options: WithTokenOptions = {},
): Promise<T> {
  const { signal } = options;
  let used: string;
  if (from instanceof TokenClient) {
    used = (await from.getToken(appId, { signal })).accessToken;
  } else {
    if (from.appId !== appId) throw new TypeError(`withToken: the TokenSource holds app ${from.appId}, not ${appId}`);
    used = from.token();
  }
  try {
    return await fn(used);
  } catch (err) {
    if (!isStaleTokenError(err)) throw err;
    const { token } = from instanceof TokenClient ? await from.forceRefresh(appId, used, { signal }) : await from.forceRefresh(used, { signal });
    options.onRetry?.(err, token);
    return fn(token.accessToken);
  }
}

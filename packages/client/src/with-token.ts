/**
 * The passive refresh, done once and right: run a WeChat call with the token;
 * if WeChat rejects the token itself, report exactly that token to the server
 * (compare-and-refresh, so a storm of callers costs one upstream refresh) and
 * retry once with the token it answers. Peers that retry unconditionally, or
 * up to three times, are how refresh storms start.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { Token } from "../generated/wxtoken/v1/token_service.js";
import { TokenServiceError } from "./errors.js";
import type { CallOptions, ForceRefreshResult, TokenClient, Which } from "./token-client.js";

/** WeChat's answers for a token that is stale (40001), unknown (40014) or expired (42001). */
export const STALE_TOKEN_ERRCODES: ReadonlySet<number> = new Set([40001, 40014, 42001]);

/** What withToken needs of a TokenSource: a value held in memory, and the passive refresh. */
export interface HeldCredential {
  readonly appId: string;
  readonly which: Which;
  token(): string;
  forceRefresh(stale: string, options?: CallOptions): Promise<ForceRefreshResult>;
}

function isHeld(from: HeldCredential | TokenClient): from is HeldCredential {
  return typeof (from as Partial<HeldCredential>).token === "function";
}

export interface WithTokenOptions extends Which {
  /** With a TokenClient, `kind`, `agent` and `platformId` name the credential (a ticket too); a TokenSource knows its own. */
  /** Passed to GetToken and ForceRefresh (not to fn: close over your own signal there). */
  signal?: AbortSignal;
  /**
   * How long in all (ms) to wait out the server's advised delays
   * (google.rpc.RetryInfo: a refresh backing off after WeChat failed, a rate
   * limit) before calling GetToken or ForceRefresh again; a delay that does not
   * fit fails at once. Default 10_000; 0 never waits.
   */
  retryWithinMs?: number;
  /** Called before the retry: what WeChat said, and the token the retry will use. */
  onRetry?: (rejected: StaleTokenLike, fresh: Token) => void;
}

/** An error that carries WeChat's errcode: wxtoken's WeChatError, or another WeChat SDK's. */
export interface StaleTokenLike {
  errcode: number;
}

/**
 * True for an error saying WeChat rejected the access_token: any error with a
 * numeric `errcode` (wxtoken's WeChatError, and other WeChat SDKs' errors)
 * of 40001, 40014 or 42001.
 */
export function isStaleTokenError(err: unknown): err is StaleTokenLike {
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
 * The same works for a ticket (kind "jsapi_ticket", ...): fn reports the
 * ticket stale the same way, e.g. after WeChat or the page rejected it.
 */
export async function withToken<T>(
  from: HeldCredential | TokenClient,
  appId: string,
  fn: (accessToken: string) => Promise<T>,
  options: WithTokenOptions = {},
): Promise<T> {
  const { signal } = options;
  const which: Which = { kind: options.kind, agent: options.agent, platformId: options.platformId };
  const deadline = Date.now() + (options.retryWithinMs ?? DEFAULT_RETRY_WITHIN_MS);
  const patiently = <R>(call: () => Promise<R>): Promise<R> => callPatiently(call, deadline, signal);
  let used: string;
  if (!isHeld(from)) {
    used = (await patiently(() => from.getToken(appId, { signal, ...which }))).accessToken;
  } else {
    if (from.appId !== appId) throw new TypeError(`withToken: the TokenSource holds app ${from.appId}, not ${appId}`);
    used = from.token();
  }
  try {
    return await fn(used);
  } catch (err) {
    if (!isStaleTokenError(err)) throw err;
    const { token } = await patiently(() => (isHeld(from) ? from.forceRefresh(used, { signal }) : from.forceRefresh(appId, used, { signal, ...which })));
    options.onRetry?.(err, token);
    return fn(token.accessToken);
  }
}

const DEFAULT_RETRY_WITHIN_MS = 10_000;

/**
 * Runs a call to the server; when it fails with a RetryInfo delay that ends
 * before `deadline`, waits that long and calls again. The server says when
 * asking again can work, so waiting beats failing a business call that would
 * have succeeded a second later.
 */
async function callPatiently<R>(call: () => Promise<R>, deadline: number, signal: AbortSignal | undefined): Promise<R> {
  for (;;) {
    try {
      return await call();
    } catch (err) {
      const delay = err instanceof TokenServiceError ? err.retryDelayMs : undefined;
      if (delay === undefined || Date.now() + delay > deadline) throw err;
      // As the calls do: an abort rejects with the signal's reason.
      await sleep(delay, undefined, { signal }).catch(() => {
        throw signal?.reason;
      });
    }
  }
}

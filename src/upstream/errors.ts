/**
 * Errors from the WeChat upstream, as values with names. The refresher decides
 * how to retry from `kind`; the gRPC layer maps `kind` to a status code in one
 * table (src/server/status.ts).
 */

/**
 * - transient: retry soon with jittered exponential backoff (-1, timeouts, connection
 *   errors, HTTP 5xx, unparsable bodies).
 * - admin: an operator must act (IP whitelist, IP pending approval); retry slowly.
 * - permanent: wrong appid/secret, frozen account, a request bug; retry only rarely.
 * - quota: the day's quota is used up (45009) or the rate limit hit (45011).
 */
export type UpstreamErrorKind = "transient" | "admin" | "permanent" | "quota";

interface ErrcodeInfo {
  kind: UpstreamErrorKind;
  meaning: string;
}

/** Every errcode WeChat documents for the token endpoints, and how we treat it (test/upstream-errors.test.ts holds an independent list). */
export const ERRCODES: Readonly<Record<number, ErrcodeInfo>> = {
  [-1]: { kind: "transient", meaning: "system busy" },
  40001: { kind: "permanent", meaning: "invalid credential (wrong appsecret?)" },
  40002: { kind: "permanent", meaning: "invalid grant_type" },
  40013: { kind: "permanent", meaning: "invalid appid" },
  40125: { kind: "permanent", meaning: "invalid appsecret" },
  40164: { kind: "admin", meaning: "caller IP not in whitelist" },
  40243: { kind: "permanent", meaning: "AppSecret frozen" },
  41002: { kind: "permanent", meaning: "appid missing" },
  41004: { kind: "permanent", meaning: "appsecret missing" },
  43002: { kind: "permanent", meaning: "POST required" },
  45009: { kind: "quota", meaning: "daily quota reached" },
  45011: { kind: "quota", meaning: "API rate limit reached" },
  47001: { kind: "permanent", meaning: "malformed request body" },
  50004: { kind: "permanent", meaning: "token API forbidden" },
  50007: { kind: "permanent", meaning: "account frozen" },
  89501: { kind: "admin", meaning: "IP pending admin confirmation" },
  89503: { kind: "admin", meaning: "IP needs admin confirmation" },
  89506: { kind: "admin", meaning: "IP rejected, blocked for 24 h" },
  89507: { kind: "admin", meaning: "IP rejected, blocked for 1 h" },
};

/** Splits WeChat's request id off an errmsg: " rid: ..." today, " hint: [...]" before. */
export function splitRid(errmsg: string): { message: string; rid?: string } {
  const m = /^(.*?)[\s,;]*(?:rid:\s*(\S+)|hint:\s*\[([^\]]*)\])\s*$/s.exec(errmsg);
  if (!m) return { message: errmsg };
  return { message: m[1] ?? "", rid: m[2] ?? m[3] };
}

/** An error answer from WeChat: a JSON body with a non-zero errcode. */
export class WeChatError extends Error {
  override readonly name = "WeChatError";
  readonly errcode: number;
  /** errmsg as WeChat sent it (secret scrubbed), rid included. */
  readonly errmsg: string;
  /** WeChat's per-request id, when it sent one: what WeChat support asks for. */
  readonly rid: string | undefined;
  readonly kind: UpstreamErrorKind;
  readonly endpoint: string;

  constructor(endpoint: string, errcode: number, errmsg: string) {
    const info = ERRCODES[errcode];
    const { rid } = splitRid(errmsg);
    super(`wechat errcode ${errcode} (${info?.meaning ?? "unknown errcode"}): ${errmsg}`);
    this.endpoint = endpoint;
    this.errcode = errcode;
    this.errmsg = errmsg;
    this.rid = rid;
    // An errcode we do not know is not retried hard: treat it like a permanent one.
    this.kind = info?.kind ?? "permanent";
  }
}

export type TransportFailure =
  | "TIMEOUT" // connect or total timeout
  | "CONNECT" // refused, reset, DNS, TLS
  | "HTTP_STATUS" // a status other than 200
  | "BAD_BODY" // not JSON, or JSON of the wrong shape
  | "ABSURD_TOKEN"; // empty, too long, or an impossible expires_in

/** The upstream could not be reached or did not answer sensibly. Always transient. */
export class UpstreamTransportError extends Error {
  override readonly name = "UpstreamTransportError";
  readonly kind: UpstreamErrorKind = "transient";
  readonly code: TransportFailure;
  readonly endpoint: string;

  constructor(endpoint: string, code: TransportFailure, message: string) {
    super(`upstream ${endpoint} ${code.toLowerCase().replace("_", " ")}: ${message}`);
    this.endpoint = endpoint;
    this.code = code;
  }
}

export type UpstreamError = WeChatError | UpstreamTransportError;

export function isUpstreamError(err: unknown): err is UpstreamError {
  return err instanceof WeChatError || err instanceof UpstreamTransportError;
}

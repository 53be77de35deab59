/**
 * Errors from the WeChat upstream, as values with names. The refresher decides
 * how to retry from `kind`; the transports map the category (derived from
 * `kind`) to a status code in one table (src/grpc/status.ts). What an
 * errcode means depends on the endpoint family: each issuer passes its own
 * table (src/issuers/).
 */
import { WxTokenError, type ErrorCategory } from "../errors.js";

/**
 * - transient: retry soon with jittered exponential backoff (-1, timeouts, connection
 *   errors, HTTP 5xx, unparsable bodies).
 * - admin: an operator must act (IP whitelist, IP pending approval); retry slowly.
 * - permanent: wrong appid/secret, frozen account, a request bug; retry only rarely.
 * - quota: the day's quota is used up (45009) or the rate limit hit (45011).
 */
export type UpstreamErrorKind = "transient" | "admin" | "permanent" | "quota";

export interface ErrcodeInfo {
  kind: UpstreamErrorKind;
  meaning: string;
  /** For a quota errcode: how long until asking again can work (default: 45009 the next quota day, others a minute). */
  retryMs?: (now: number) => number;
  /** The ErrorInfo reason callers see, where the errcode deserves its own (default WECHAT_ERROR). */
  reason?: string;
  /**
   * The answer says the value held no longer works either (an authorizer's
   * 61023: the account revoked the platform, and WeChat cut its tokens with
   * the refresh token): it is not served any longer, rather than until it expires.
   */
  revokesValue?: boolean;
}

/** What each errcode of an endpoint family means, and how we treat it. */
export type ErrcodeTable = Readonly<Record<number, ErrcodeInfo>>;

const CATEGORY_OF_KIND: Record<UpstreamErrorKind, ErrorCategory> = {
  transient: "unavailable",
  quota: "exhausted",
  admin: "precondition",
  permanent: "precondition",
};

/** Every errcode WeChat documents for the Official Account token endpoints, and how we treat it (test/upstream/upstream-errors.test.ts holds an independent list). */
export const ERRCODES: ErrcodeTable = {
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

/** Start of the next WeChat quota day: midnight in China (UTC+8, no DST). */
export function nextQuotaDay(now: number): number {
  const offset = 8 * 3600_000;
  const day = 24 * 3600_000;
  return Math.floor((now + offset) / day) * day + day - offset;
}

/** An error answer from WeChat: a JSON body with a non-zero errcode. */
export class WeChatError extends WxTokenError {
  override readonly name = "WeChatError";
  readonly reason: string;
  readonly errcode: number;
  /** errmsg as WeChat sent it (secret scrubbed), rid included. */
  readonly errmsg: string;
  /** WeChat's per-request id, when it sent one: what WeChat support asks for. */
  readonly rid: string | undefined;
  readonly kind: UpstreamErrorKind;
  readonly endpoint: string;
  /** See ErrcodeInfo.revokesValue. */
  readonly revokesValue: boolean;
  private readonly info: ErrcodeInfo | undefined;

  constructor(endpoint: string, errcode: number, errmsg: string, table: ErrcodeTable = ERRCODES) {
    const info = table[errcode];
    const { rid } = splitRid(errmsg);
    super(`wechat errcode ${errcode} (${info?.meaning ?? "unknown errcode"}): ${errmsg}`);
    this.endpoint = endpoint;
    this.errcode = errcode;
    this.errmsg = errmsg;
    this.rid = rid;
    this.info = info;
    this.reason = info?.reason ?? "WECHAT_ERROR";
    this.revokesValue = info?.revokesValue === true;
    // An errcode we do not know is not retried hard: treat it like a permanent one.
    this.kind = info?.kind ?? "permanent";
  }

  get category(): ErrorCategory {
    return CATEGORY_OF_KIND[this.kind];
  }

  /** Whether the endpoint's errcode table documents this errcode (metrics count the rest as "other"). */
  get known(): boolean {
    return this.info !== undefined;
  }

  override metadata(): Record<string, string> {
    const m: Record<string, string> = { errcode: String(this.errcode), endpoint: this.endpoint };
    if (this.rid) m.rid = this.rid;
    return m;
  }

  /** WeChat's quota answers say when asking again can work: the next quota day (45009), a minute (45011, 45033). */
  override retryDelayMs(now: number): number | undefined {
    if (this.kind !== "quota") return undefined;
    if (this.info?.retryMs) return this.info.retryMs(now);
    return this.errcode === 45009 ? nextQuotaDay(now) - now : 60_000;
  }
}

export type TransportFailure =
  | "TIMEOUT" // connect or total timeout
  | "CONNECT" // refused, reset, DNS, TLS
  | "HTTP_STATUS" // a status other than 200
  | "BAD_BODY" // not JSON, or JSON of the wrong shape
  | "ABSURD_TOKEN"; // empty, too long, or an impossible expires_in

/** The upstream could not be reached or did not answer sensibly. Always transient. */
export class UpstreamTransportError extends WxTokenError {
  override readonly name: string = "UpstreamTransportError";
  readonly reason: string = "UPSTREAM_UNAVAILABLE";
  readonly category = "unavailable";
  readonly kind: UpstreamErrorKind = "transient";
  readonly code: TransportFailure;
  readonly endpoint: string;

  constructor(endpoint: string, code: TransportFailure, message: string) {
    super(`upstream ${endpoint} ${code.toLowerCase().replace("_", " ")}: ${message}`);
    this.endpoint = endpoint;
    this.code = code;
  }

  override metadata(): Record<string, string> {
    return { transport: this.code, endpoint: this.endpoint };
  }
}

/**
 * A call that could not be made for want of an input: no component_verify_ticket
 * pushed yet, no refresh token held. Nothing was asked of WeChat (no quota
 * spent); retried like a transient failure, and at once when the input arrives.
 */
export class MissingInputError extends UpstreamTransportError {
  override readonly name = "MissingInputError";
  override readonly reason: string;
  constructor(endpoint: string, reason: string, message: string) {
    super(endpoint, "CONNECT", message);
    this.reason = reason;
    // Nothing was connected to: the message says what is missing, not a transport failure.
    this.message = message;
  }

  override metadata(): Record<string, string> {
    return { endpoint: this.endpoint };
  }
}

export type UpstreamError = WeChatError | UpstreamTransportError;

export function isUpstreamError(err: unknown): err is UpstreamError {
  return err instanceof WeChatError || err instanceof UpstreamTransportError;
}

/** WeChat's answers for a token that is stale (40001), unknown (40014) or expired (42001): the client's withToken reacts to them too. */
export { STALE_TOKEN_ERRCODES } from "@wxtoken/client";

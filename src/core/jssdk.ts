/**
 * JS-SDK signatures, so a page can be configured without the ticket ever
 * leaving the server. The algorithms are WeChat's (and WeCom's, the same):
 *   wx.config / wx.agentConfig: sha1("jsapi_ticket=T&noncestr=N&timestamp=TS&url=U"),
 *     keys in that ASCII order, U the page URL without its #fragment;
 *   cards (wx.addCard, wx.chooseCard): sha1 of the values (api_ticket,
 *     timestamp, nonce_str and the card fields) sorted as strings and concatenated.
 * Lowercase hex.
 */
import { createHash, randomBytes } from "node:crypto";
import { InvalidArgumentError, PermissionDeniedError } from "../errors.js";

const sha1 = (text: string) => createHash("sha1").update(text, "utf8").digest("hex");

export function pageSignature(ticket: string, nonceStr: string, timestamp: number, url: string): string {
  return sha1(`jsapi_ticket=${ticket}&noncestr=${nonceStr}&timestamp=${timestamp}&url=${url}`);
}

export function cardSignature(apiTicket: string, nonceStr: string, timestamp: number, values: readonly string[]): string {
  return sha1([apiTicket, String(timestamp), nonceStr, ...values].sort().join(""));
}

/** 16 characters of [A-Za-z0-9]: what WeChat's own examples use. */
export function nonceStr(): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  return [...randomBytes(16)].map((b) => alphabet[b % alphabet.length]).join("");
}

const MAX_URL_LENGTH = 4096;

/**
 * The URL to sign: absolute http(s), without its #fragment, otherwise exactly
 * as given (WeChat compares it with the page's location.href, so it is not
 * normalised). Refused outside the app's allowed origins, when it has any.
 */
export function pageUrl(raw: unknown, allowedOrigins: readonly string[]): string {
  if (typeof raw !== "string" || raw.length === 0) throw new InvalidArgumentError("url is required: the page URL (location.href)", "INVALID_URL");
  if (raw.length > MAX_URL_LENGTH) throw new InvalidArgumentError(`url is longer than ${MAX_URL_LENGTH} characters`, "INVALID_URL");
  const url = raw.split("#")[0]!;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InvalidArgumentError("url must be an absolute http:// or https:// URL", "INVALID_URL");
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new InvalidArgumentError(`url must be http:// or https://, not ${parsed.protocol}`, "INVALID_URL");
  }
  if (/[\s\x00-\x1f\x7f]/.test(url)) throw new InvalidArgumentError("url contains whitespace or control characters", "INVALID_URL");
  if (allowedOrigins.length > 0 && !allowedOrigins.includes(parsed.origin)) {
    throw new PermissionDeniedError(`pages of ${parsed.origin} may not be signed for this app (jsSdk.allowedOrigins)`, "ORIGIN_NOT_ALLOWED");
  }
  return url;
}

/**
 * JS-SDK signatures, so a page can be configured without the ticket ever
 * leaving the server. The algorithms (pageSignature, cardSignature) live in
 * the client package, so a service can check what the server signed; this
 * file adds what only the server does: nonces and the URL check.
 */
import { randomBytes } from "node:crypto";
import { InvalidArgumentError, PermissionDeniedError } from "../errors.js";

export { pageSignature, cardSignature } from "@wxtoken/client";

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

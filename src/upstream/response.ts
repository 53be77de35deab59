/**
 * Pure helpers of the upstream client: redaction of credentials from any text
 * that may end up in an error, and the checks on a WeChat answer.
 */
import { ERRCODES, UpstreamTransportError, WeChatError, type ErrcodeTable } from "./errors.js";
import type { FetchedToken } from "./types.js";

export type Redact = (text: string) => string;

/** expires_in is "a value within 7200" s; a day is the most we would ever believe. */
export const MAX_EXPIRES_IN = 86_400;
const EXCERPT_CHARS = 100;
/** An errmsg is a sentence plus a rid; anything longer is cut (keeping the rid at the end). */
const MAX_ERRMSG_CHARS = 1000;

/**
 * Replaces each value, and the forms it takes in a URL query or a JSON body,
 * with ***: an upstream page or an undici error may echo the request URL, where
 * the secret is percent-encoded, not verbatim.
 */
export function redactor(values: readonly string[]): Redact {
  const forms = new Set<string>();
  for (const v of values) {
    if (v.length === 0) continue;
    forms.add(v);
    forms.add(encodeURIComponent(v));
    forms.add(new URLSearchParams({ v }).toString().slice(2));
    forms.add(JSON.stringify(v).slice(1, -1));
  }
  // Longest first, so a form that contains another is replaced whole.
  const ordered = [...forms].sort((a, b) => b.length - a.length);
  return (text) => ordered.reduce((t, f) => t.split(f).join("***"), text);
}

/** A short, quoted, redacted excerpt of an upstream body, safe to log. */
export function excerpt(text: string, redact: Redact): string {
  // Redact before cutting: a cut could leave a recognisable half of the secret.
  // Long unbroken runs (a token or ticket in a mangled answer) are masked too.
  const flat = redact(text)
    .replace(/\s+/g, " ")
    .replace(/[A-Za-z0-9_\-@+/]{32,}/g, (run) => `[${run.length} chars]`)
    .trim();
  const cut = flat.length > EXCERPT_CHARS ? `${flat.slice(0, EXCERPT_CHARS)}…` : flat;
  return JSON.stringify(cut);
}

/** Parses the body as JSON whatever its Content-Type said; only an object is an answer. */
export function parseObject(endpoint: string, text: string, redact: Redact): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text.replace(/^\uFEFF/, ""));
  } catch {
    throw new UpstreamTransportError(endpoint, "BAD_BODY", `not JSON: ${excerpt(text, redact)}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new UpstreamTransportError(endpoint, "BAD_BODY", `not a JSON object: ${excerpt(text, redact)}`);
  }
  return value as Record<string, unknown>;
}

/** Throws WeChatError for a non-zero errcode (errcode 0, "ok", is WeCom's success). */
export function throwOnErrcode(endpoint: string, body: Record<string, unknown>, redact: Redact, table: ErrcodeTable = ERRCODES): void {
  const raw = body.errcode;
  if (raw === undefined || raw === null) return;
  const errcode = typeof raw === "string" && /^-?\d+$/.test(raw) ? Number(raw) : raw;
  if (typeof errcode !== "number" || !Number.isSafeInteger(errcode)) {
    throw new UpstreamTransportError(endpoint, "BAD_BODY", `errcode is not an integer: ${describe(raw, redact)}`);
  }
  if (errcode === 0) return;
  let errmsg = redact(typeof body.errmsg === "string" ? body.errmsg : "");
  if (errmsg.length > MAX_ERRMSG_CHARS) errmsg = `${errmsg.slice(0, 800)} … ${errmsg.slice(-150)}`;
  throw new WeChatError(endpoint, errcode, errmsg, table);
}

/** The checks on a token (or ticket: field "ticket") answer, errcode already handled: shape, then sanity. */
export function toFetchedToken(
  endpoint: string,
  body: Record<string, unknown>,
  maxTokenLength: number,
  redact: Redact,
  field = "access_token",
): FetchedToken {
  const token = body[field];
  if (typeof token !== "string") {
    // Name the keys and their types, not the values: a wrong shape may still hold a token.
    const shape = Object.entries(body)
      .slice(0, 10)
      .map(([k, v]) => `${k}:${v === null ? "null" : typeof v}`)
      .join(", ");
    throw new UpstreamTransportError(endpoint, "BAD_BODY", `no ${field} string in {${redact(shape).slice(0, 200)}}`);
  }
  const absurd = (why: string) => new UpstreamTransportError(endpoint, "ABSURD_TOKEN", why);
  if (token.length === 0) throw absurd(`${field} is empty`);
  if (token.length > maxTokenLength) {
    throw absurd(`${field} is ${token.length} chars (max ${maxTokenLength})`);
  }
  // It goes into URLs and gRPC metadata: whitespace or control characters mean garbage.
  if (/[\s\x00-\x1f\x7f]/.test(token)) throw absurd(`${field} contains whitespace or control characters`);
  const raw = body.expires_in;
  if (typeof raw !== "number" || !Number.isFinite(raw)) {
    throw absurd(`expires_in is ${raw === undefined ? "missing" : `not a number: ${describe(raw, redact)}`}`);
  }
  // Rounding down errs on the side of refreshing early.
  const expiresIn = Math.floor(raw);
  if (expiresIn < 1 || expiresIn > MAX_EXPIRES_IN) {
    throw absurd(`expires_in ${raw} is outside 1..${MAX_EXPIRES_IN}`);
  }
  return { accessToken: token, expiresIn };
}

function describe(value: unknown, redact: Redact): string {
  return excerpt(JSON.stringify(value) ?? String(value), redact);
}

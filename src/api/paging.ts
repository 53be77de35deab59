/**
 * ListAuthorizers in pages, as Google's AIP-158 has it: page_size (0: the
 * default, past the maximum: the maximum, negative: refused) and an opaque
 * page_token. The token is the last appid of the page before (keyset
 * pagination: accounts that come or go between two pages do not shift the
 * others), with the platform and the status filter it was made for, so a
 * token cannot continue another listing. It is base64url JSON: opaque to
 * callers, who must not build or read it, but it carries nothing secret.
 */
import { InvalidArgumentError } from "../errors.js";
import type { AuthorizerStatus } from "../platform/store.js";

export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;

/** What the caller asked for, with the status filter already mapped from the transport's enum. */
export interface PageRequest {
  pageSize?: unknown;
  pageToken?: unknown;
  /** undefined: every status; null: a value this server does not know. */
  status?: AuthorizerStatus | null;
}

/** Where a page starts, checked. */
export interface PageStart {
  limit: number;
  /** The last appid of the page before; undefined for the first page. */
  after: string | undefined;
  status: AuthorizerStatus | undefined;
}

type TokenBody = {
  /** The platform. */
  c: string;
  /** The status filter ("" for all). */
  s: string;
  /** The last appid of the page. */
  a: string;
};

/** Longer than any token this server makes: refused before it is decoded. */
const MAX_TOKEN_LENGTH = 512;

export function pageSize(raw: unknown): number {
  const n = raw === undefined ? 0 : raw;
  if (typeof n !== "number" || !Number.isInteger(n)) throw new InvalidArgumentError("page_size must be an integer", "INVALID_PAGE_SIZE");
  if (n < 0) throw new InvalidArgumentError(`page_size must not be negative (0 means ${DEFAULT_PAGE_SIZE}, at most ${MAX_PAGE_SIZE})`, "INVALID_PAGE_SIZE");
  return n === 0 ? DEFAULT_PAGE_SIZE : Math.min(n, MAX_PAGE_SIZE);
}

export function encodePageToken(component: string, status: AuthorizerStatus | undefined, lastAppId: string): string {
  const body: TokenBody = { c: component, s: status ?? "", a: lastAppId };
  return encodeToken(body);
}

/** An opaque page token of string fields (base64url JSON). */
export function encodeToken(body: Record<string, string>): string {
  return Buffer.from(JSON.stringify(body), "utf8").toString("base64url");
}

/** The fields of a token encodeToken made, or undefined when it is not one (too long, not base64url, not a JSON object). */
export function decodeToken(token: string): Record<string, unknown> | undefined {
  if (token.length > MAX_TOKEN_LENGTH || !/^[A-Za-z0-9_-]+$/.test(token)) return undefined;
  try {
    const body: unknown = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
    return typeof body === "object" && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function badToken(why: string): InvalidArgumentError {
  return new InvalidArgumentError(`page_token ${why}: pass the next_page_token of the previous page unchanged, with the same component_app_id and status_filter, or none for the first page`, "INVALID_PAGE_TOKEN");
}

function decodePageToken(token: string): TokenBody {
  const o = decodeToken(token);
  if (!o || typeof o.c !== "string" || typeof o.s !== "string" || typeof o.a !== "string" || o.a === "") {
    throw badToken("is not a page token of this server");
  }
  return { c: o.c, s: o.s, a: o.a };
}

/** The page a request asks for on the platform `component`; INVALID_ARGUMENT for a bad size, filter or token. */
export function pageStart(component: string, req: PageRequest): PageStart {
  const limit = pageSize(req.pageSize);
  if (req.status === null) throw new InvalidArgumentError("status_filter is not an AuthorizerStatus this server knows", "INVALID_STATUS_FILTER");
  const status = req.status;
  const token = req.pageToken ?? "";
  if (typeof token !== "string") throw badToken("must be a string");
  if (token === "") return { limit, after: undefined, status };
  const body = decodePageToken(token);
  if (body.c !== component) throw badToken("was made for another platform");
  if (body.s !== (status ?? "")) throw badToken("was made for another status_filter");
  return { limit, after: body.a, status };
}

/**
 * The status page for operators, on the metrics listener: GET /status is one
 * self-contained HTML page (inline CSS and script, no CDN, no framework)
 * that polls GET /status.json, which answers a page of ListCredentials
 * (src/api/credentials.ts) in proto3 JSON with the server's time. Like
 * /metrics it has no authentication (it shows appids, states, fingerprints
 * and quota use, never a token or secret) and the listener's Host check
 * applies, so a page on another site cannot read it through DNS rebinding.
 */
import { createHash } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { listCredentials } from "../api/credentials.js";
import type { Clock } from "../clock.js";
import type { CredentialEngine } from "../core/engine.js";
import { WxTokenError } from "../errors.js";
import { credentialListJson, DECODE, requestFields } from "../http/json.js";
import { credentialListArgs } from "../grpc/convert.js";
import { STATUS_PAGE_HTML, STATUS_PAGE_SCRIPT } from "./status-page-html.js";

/** One page of credentials as /status.json answers it, from the query's ListCredentials fields. */
export type StatusSource = (query: Record<string, string>) => Record<string, unknown>;

/** Every credential of the engine: the listener has no authentication, and shows what /metrics shows. */
export function credentialStatus(engine: CredentialEngine): StatusSource {
  return (query) => credentialListJson(listCredentials(engine, credentialListArgs(DECODE.ListCredentials(requestFields("ListCredentials", [query]))), { all: true }));
}

// The one script the page may run is the inline one, by its hash: nothing injected could run.
const SCRIPT_HASH = createHash("sha256").update(STATUS_PAGE_SCRIPT).digest("base64");
const PAGE_HEADERS = {
  "content-type": "text/html; charset=utf-8",
  "cache-control": "no-store",
  "content-security-policy": `default-src 'none'; script-src 'sha256-${SCRIPT_HASH}'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
};

function sendJson(req: IncomingMessage, res: ServerResponse, httpStatus: number, body: unknown): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(httpStatus, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text), "cache-control": "no-store", "x-content-type-options": "nosniff" });
  res.end(req.method === "HEAD" ? undefined : text);
}

/** Answers GET or HEAD /status and /status.json and returns true; false (answering nothing) for any other path. */
export function answerStatus(req: IncomingMessage, res: ServerResponse, source: StatusSource, clock: Clock): boolean {
  const url = new URL(req.url ?? "/", "http://status.invalid");
  if (url.pathname !== "/status" && url.pathname !== "/status.json") return false;
  if (req.method !== "GET" && req.method !== "HEAD") {
    res.writeHead(405, { allow: "GET, HEAD", "content-type": "text/plain; charset=utf-8" }).end(`${url.pathname} answers GET and HEAD\n`);
    return true;
  }
  if (url.pathname === "/status") {
    res.writeHead(200, { ...PAGE_HEADERS, "content-length": Buffer.byteLength(STATUS_PAGE_HTML) });
    res.end(req.method === "HEAD" ? undefined : STATUS_PAGE_HTML);
    return true;
  }
  try {
    const page = source(Object.fromEntries(url.searchParams));
    sendJson(req, res, 200, { ...page, serverTime: new Date(clock.now()).toISOString() });
  } catch (err) {
    if (!(err instanceof WxTokenError) || err.category !== "invalid") throw err;
    sendJson(req, res, 400, { status: "error", reason: err.reason, message: err.message });
  }
  return true;
}

/** Small node:http helpers: reading a body, parsing it WeChat's way, answering. */
import type { IncomingMessage, ServerResponse } from "node:http";

/** What WeChat labels its token endpoint answers with (sic: "encoding", not "charset"). */
export const TOKEN_CONTENT_TYPE = "application/json; encoding=utf-8";
/** What the other endpoints are labelled with, although the body is JSON. */
export const API_CONTENT_TYPE = "text/plain";

const MAX_BODY_BYTES = 1 << 20;

export class BodyTooLargeError extends Error {}

export async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new BodyTooLargeError("request body too large");
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

export type JsonBody = { ok: true; value: Record<string, unknown> } | { ok: false; error: string };

/** A body read as a JSON object whatever its content type says. */
export function parseJsonObject(body: Buffer): JsonBody {
  const text = body.toString("utf8");
  if (text.trim() === "") return { ok: false, error: "body is empty" };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { ok: false, error: `body is not JSON (${(err as Error).message})` };
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) return { ok: false, error: "body is JSON but not an object" };
  return { ok: true, value: value as Record<string, unknown> };
}

/**
 * A request body as WeChat reads it: a JSON object, or nothing usable (47001).
 * A form-encoded body yields no fields at all, which WeChat reports as the
 * first missing field (41002 appid missing), not as a format error.
 */
export function parseJsonBody(body: Buffer, contentType: string): JsonBody {
  if (contentType.toLowerCase().includes("application/x-www-form-urlencoded")) return { ok: true, value: {} };
  return parseJsonObject(body);
}

export function send(res: ServerResponse, status: number, contentType: string, text: string): void {
  res.writeHead(status, { "content-type": contentType, "content-length": Buffer.byteLength(text) });
  res.end(text);
}

export function sendJson(res: ServerResponse, body: unknown, contentType = "application/json", status = 200): void {
  send(res, status, contentType, JSON.stringify(body));
}

/** An HTML error page like the ones a proxy in front of WeChat would send. */
export function htmlPage(status: number): string {
  const title = `${status} ${STATUS_TEXT[status] ?? "Error"}`;
  return `<html>\r\n<head><title>${title}</title></head>\r\n<body>\r\n<center><h1>${title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n`;
}

const STATUS_TEXT: Record<number, string> = {
  400: "Bad Request",
  403: "Forbidden",
  404: "Not Found",
  429: "Too Many Requests",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Temporarily Unavailable",
  504: "Gateway Time-out",
};

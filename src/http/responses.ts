/**
 * What the HTTP API writes back: a JSON body, or an error as a JSON
 * google.rpc.Status (with its ErrorInfo and RetryInfo) under the HTTP status
 * grpc-gateway maps its gRPC code to. The gRPC code itself comes from the one
 * error table (src/grpc/status.ts); a request refused before any RPC runs
 * is an HttpRefusal.
 */
import type { ServerResponse } from "node:http";
import { status } from "@grpc/grpc-js";
import type { Clock } from "../clock.js";
import type { Logger } from "../log.js";
import { toStatus, type MappedStatus } from "../grpc/status.js";

/** grpc-gateway's mapping of gRPC codes to HTTP statuses. */
const HTTP_STATUS: Record<number, number> = {
  [status.OK]: 200,
  [status.CANCELLED]: 499,
  [status.UNKNOWN]: 500,
  [status.INVALID_ARGUMENT]: 400,
  [status.DEADLINE_EXCEEDED]: 504,
  [status.NOT_FOUND]: 404,
  [status.ALREADY_EXISTS]: 409,
  [status.PERMISSION_DENIED]: 403,
  [status.UNAUTHENTICATED]: 401,
  [status.RESOURCE_EXHAUSTED]: 429,
  [status.FAILED_PRECONDITION]: 400,
  [status.ABORTED]: 409,
  [status.OUT_OF_RANGE]: 400,
  [status.UNIMPLEMENTED]: 501,
  [status.INTERNAL]: 500,
  [status.UNAVAILABLE]: 503,
  [status.DATA_LOSS]: 500,
};

/** The ErrorInfo reason of each refusal, by its HTTP status. */
const REFUSAL_REASON: Record<number, string> = {
  404: "NO_ROUTE",
  405: "METHOD_NOT_ALLOWED",
  413: "BODY_TOO_LARGE",
  415: "NOT_JSON",
  421: "HOST_NOT_ALLOWED",
};

/** A request refused before any RPC runs (404, 405, 413, 415, 421, 503 while draining). */
export class HttpRefusal extends Error {
  constructor(
    readonly httpStatus: number,
    readonly code: status,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** A JSON google.rpc.Status with its ErrorInfo and RetryInfo, as grpc-gateway writes one. */
export function statusJson(m: Pick<MappedStatus, "code" | "details" | "reason" | "metadata" | "retryDelayMs">): Record<string, unknown> {
  const details: Record<string, unknown>[] = [
    { "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason: m.reason, domain: "wxtoken", metadata: m.metadata ?? {} },
  ];
  if (m.retryDelayMs !== undefined) {
    details.push({ "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: `${(Math.ceil(m.retryDelayMs) / 1000).toFixed(3)}s` });
  }
  return { code: m.code, message: m.details, details };
}

/** A JSON answer, never cached; nothing when the headers have already left. */
export function sendJson(res: ServerResponse, httpStatus: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) return;
  const text = JSON.stringify(body);
  res.writeHead(httpStatus, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text), "cache-control": "no-store", ...headers });
  res.end(text);
}

/** The error as a google.rpc.Status (Retry-After when it carries a delay); an internal one is logged. */
export function sendError(res: ServerResponse, err: unknown, clock: Clock, log: Logger): void {
  if (err instanceof HttpRefusal) {
    sendJson(res, err.httpStatus, statusJson({ code: err.code, details: err.message, reason: REFUSAL_REASON[err.httpStatus] ?? "SHUTTING_DOWN" }), err.headers);
    return;
  }
  const mapped = toStatus(err, clock.now());
  if (mapped.code === status.INTERNAL) log.error({ err }, "internal error (HTTP)");
  const headers: Record<string, string> = mapped.retryDelayMs !== undefined ? { "retry-after": String(Math.ceil(mapped.retryDelayMs / 1000)) } : {};
  sendJson(res, HTTP_STATUS[mapped.code] ?? 500, statusJson(mapped), headers);
}

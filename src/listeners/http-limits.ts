/**
 * The limits of an HTTP/1.1 listener (the HTTP API, the push receiver, the
 * metrics port): its connection cap, how long a client may take to send a
 * request's headers (and its TLS handshake), and how long an idle keep-alive
 * connection is kept.
 */
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { connectionOf, type ConnectionCap } from "./connection-cap.js";

export interface HttpLimits {
  cap: ConnectionCap;
  /** A request's headers (and a TLS handshake) must arrive within this. */
  headersMs: number;
  /** An idle keep-alive connection is closed after this. */
  idleMs: number;
}

/** Without limits: the timeouts the listeners always had, no cap. */
const DEFAULT_HEADERS_MS = 10_000;
const DEFAULT_IDLE_MS = 5_000;

/**
 * Options only accepted when the server is made. Node checks the headers and
 * request timeouts on a timer, every 30 s by default: a silent connection was
 * so held up to 40 s, not 10. Checked four times within the headers timeout
 * (at most once a second), a slow client is cut close to its limit.
 */
export function httpServerOptions(limits: HttpLimits | undefined): { connectionsCheckingInterval: number; handshakeTimeout: number } {
  const headersMs = limits?.headersMs ?? DEFAULT_HEADERS_MS;
  return { connectionsCheckingInterval: Math.min(1000, Math.max(50, Math.floor(headersMs / 4))), handshakeTimeout: headersMs };
}

/**
 * Applies the limits to a server made with httpServerOptions. `requestMs`
 * bounds the whole request (headers and body) from the client; a response
 * (an event stream's) is not bounded.
 */
export function limitHttpServer(server: Server, limits: HttpLimits | undefined, requestMs: number): void {
  const headersMs = limits?.headersMs ?? DEFAULT_HEADERS_MS;
  server.headersTimeout = headersMs;
  server.requestTimeout = Math.max(requestMs, headersMs);
  server.keepAliveTimeout = limits?.idleMs ?? DEFAULT_IDLE_MS;
  if (!limits) return;
  const cap = limits.cap;
  cap.attach(server);
  // A connection with a request in progress (an event stream included) is busy: never closed to make room.
  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    const conn = connectionOf(req.socket);
    if (!conn) return;
    cap.begin(conn);
    res.once("close", () => cap.end(conn));
  });
}

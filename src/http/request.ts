/**
 * Reading an HTTP request as an RPC: which route it is (404 without one, 405
 * for another method), its JSON body (415 when not JSON, 413 past the limit,
 * read as it arrives), and the CallInfo the TokenApi authenticates (the
 * headers as metadata, the peer, a verified client certificate).
 */
import type { IncomingMessage } from "node:http";
import type { TLSSocket } from "node:tls";
import { status } from "@grpc/grpc-js";
import type { AuthContext, CallInfo } from "../core/access-policy.js";
import { InvalidArgumentError } from "../errors.js";
import { bodyChunks } from "../listeners/client-abort.js";
import type { Route } from "./routes.js";
import { HttpRefusal } from "./responses.js";

/** The route for a method and path, with its path variables. HEAD is GET without the body (not for an event stream). */
export function findRoute(routes: readonly Route[], method: string, path: string): { route: Route; params: Record<string, string> } {
  let allowed: string | undefined;
  for (const route of routes) {
    const params = route.match(path);
    if (!params) continue;
    if (route.method === method || (method === "HEAD" && route.method === "GET" && route.rpc !== "WatchToken")) return { route, params };
    allowed = route.method;
  }
  if (allowed) throw new HttpRefusal(405, status.UNIMPLEMENTED, `${method} is not allowed here; use ${allowed}`, { allow: allowed });
  throw new HttpRefusal(404, status.NOT_FOUND, `no route for ${path.slice(0, 200)}; see the google.api.http annotations in proto/wxtoken/v1/token_service.proto`);
}

/** The body as a JSON object, at most maxBytes (an empty body is {}). */
export async function readJsonBody(req: IncomingMessage, maxBytes: number): Promise<Record<string, unknown>> {
  const type = (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
  if (type !== "application/json") throw new HttpRefusal(415, status.INVALID_ARGUMENT, "the body must be JSON (content-type: application/json)");
  const tooLarge = () => new HttpRefusal(413, status.RESOURCE_EXHAUSTED, `the body is over ${maxBytes} bytes`, { connection: "close" });
  if (Number(req.headers["content-length"] ?? 0) > maxBytes) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of bodyChunks(req)) {
    size += chunk.length;
    if (size > maxBytes) throw tooLarge();
    chunks.push(chunk);
  }
  let value: unknown;
  try {
    value = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}");
  } catch {
    throw new InvalidArgumentError("the body is not valid JSON", "INVALID_ARGUMENT");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new InvalidArgumentError("the body must be a JSON object", "INVALID_ARGUMENT");
  return value as Record<string, unknown>;
}

/** What the TokenApi authenticates, as a gRPC call would give it. */
export function callInfo(req: IncomingMessage): CallInfo {
  const socket = req.socket as TLSSocket;
  const authContext: AuthContext =
    typeof socket.getPeerCertificate === "function" && socket.authorized ? { transportSecurityType: "ssl", sslPeerCertificate: socket.getPeerCertificate() } : {};
  const headers = req.headers;
  return {
    metadata: { get: (key) => [headers[key]].flat().filter((v): v is string => typeof v === "string") },
    authContext,
    peer: `${socket.remoteAddress ?? "unknown"}:${socket.remotePort ?? 0}`,
  };
}

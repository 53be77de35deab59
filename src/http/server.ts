/**
 * The HTTP/JSON API and its server-sent events, on a listener of its own
 * (off unless `http` is configured): the routes the proto's google.api.http
 * annotations declare, with exactly the gRPC semantics, because every request
 * goes through the same TokenApi (authentication, grants, quota guard,
 * errors). This file only decodes, authenticates and encodes.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import type { TLSSocket } from "node:tls";
import { status } from "@grpc/grpc-js";
import type { TokenApi } from "../api/token-api.js";
import type { TlsFiles } from "../auth/tls-files.js";
import type { Clock } from "../clock.js";
import type { AuthContext, CallInfo, Principal } from "../core/authorizer.js";
import { InvalidArgumentError, ShuttingDownError } from "../errors.js";
import type { Logger } from "../log.js";
import { bodyChunks, ClientAbortError } from "../listeners/client-abort.js";
import { httpServerOptions, limitHttpServer, type HttpLimits } from "../listeners/http-limits.js";
import { HostCheck, HostGuard } from "../listeners/host-check.js";
import { answerProbe, type Readiness } from "../listeners/probes.js";
import { splitHostPort } from "../host-port.js";
import { credentialListArgs, kindFromProto, statusFilterFromProto } from "../server/convert.js";
import type { CallObserver } from "../server/hooks.js";
import { toStatus, type MappedStatus } from "../server/status.js";
import { SIGNATURE_TO_PROTO, signatureKindFromProto } from "../server/token-service.js";
import { credentialListJson, DECODE, platformJson, requestFields, syncJson, tokenJson } from "./json.js";
import { loadRoutes, type Route } from "./routes.js";
import { EventStream } from "./sse.js";
import { signatureJson } from "./proto-json.js";

export interface HttpApiOptions {
  /** host:port, [v6]:port or :port. */
  listen: string;
  /** Largest request body accepted (413 past it). */
  maxBodyBytes: number;
  /** Seconds between keepalive comments on an idle event stream. */
  keepaliveSeconds: number;
  /** The server's TLS files: HTTPS with them (and client certificates when they name a CA). */
  tls?: TlsFiles;
  clock: Clock;
  log: Logger;
  observer?: CallObserver;
  /** Connection cap and timeouts (connections.http); without them, the default timeouts and no cap. */
  connections?: HttpLimits;
  /** Which Host headers are answered (DNS rebinding); default: loopback names and IP addresses. */
  hosts?: HostCheck;
  /** Told of each request refused for its Host (metrics). */
  onHostRefused?(): void;
  /** Answers GET /healthz and /readyz, without authentication, draining included. */
  probes?: Readiness;
}

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

/** A request the router refuses before any RPC runs (404, 405, 413, 415). */
class HttpRefusal extends Error {
  constructor(
    readonly httpStatus: number,
    readonly code: status,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export class HttpApi {
  private readonly routes: Route[] = loadRoutes();
  private readonly server: Server;
  private readonly streams = new Set<EventStream>();
  private readonly inflight = new Set<ServerResponse>();
  private draining = false;
  private readonly hosts: HostGuard;
  private port = 0;

  constructor(
    private readonly api: TokenApi,
    private readonly opts: HttpApiOptions,
  ) {
    this.hosts = new HostGuard({ check: opts.hosts ?? new HostCheck(), listener: "http", configKey: "http.allowedHosts", log: opts.log, clock: opts.clock, onRefused: opts.onHostRefused });
    const handler = (req: IncomingMessage, res: ServerResponse) => void this.handle(req, res);
    const tls = opts.tls;
    this.server = tls
      ? createHttpsServer(
          {
            ...httpServerOptions(opts.connections),
            cert: readFileSync(tls.certFile),
            key: readFileSync(tls.keyFile),
            ...(tls.clientCaFile ? { ca: readFileSync(tls.clientCaFile), requestCert: true, rejectUnauthorized: tls.requireClientCert } : {}),
          },
          handler,
        )
      : createHttpServer(httpServerOptions(opts.connections), handler);
    // A client that sends its headers or body slowly is cut, not waited for;
    // an event stream's response is not bounded by these.
    limitHttpServer(this.server, opts.connections, 30_000);
  }

  async listen(): Promise<number> {
    const parts = splitHostPort(this.opts.listen);
    if (!parts) throw new Error(`http.listen must be host:port, got "${this.opts.listen}"`);
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(parts.port, parts.host || undefined, () => {
        this.server.off("error", reject);
        resolve();
      });
    });
    this.port = (this.server.address() as AddressInfo).port;
    this.opts.log.info({ address: this.opts.listen, port: this.port, tls: this.opts.tls !== undefined }, "HTTP API listening");
    return this.port;
  }

  get boundPort(): number {
    return this.port;
  }

  streamCount(): number {
    return this.streams.size;
  }

  /**
   * No new requests (and idle keep-alive connections closed at once); requests
   * in flight may finish until the deadline, event streams are ended by the
   * TokenApi's endWatches (SHUTTING_DOWN), then whatever is left is cut.
   */
  async shutdown(deadline: number): Promise<void> {
    this.draining = true;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    while (this.inflight.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    // Event streams never end by themselves: say why, so clients reconnect elsewhere,
    // and give the last event a moment to leave before the sockets are cut.
    const finished = [...this.streams].map((s) => s.finished());
    for (const s of this.streams) s.fail(new ShuttingDownError("server shutting down; reconnect with Last-Event-ID"));
    await Promise.race([Promise.all(finished), new Promise((r) => setTimeout(r, Math.max(100, deadline - Date.now())))]);
    this.server.closeAllConnections();
    await closed;
    this.hosts.flush();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    let rpc = "HTTP";
    let principal: Principal | undefined;
    this.inflight.add(res);
    res.on("close", () => this.inflight.delete(res));
    try {
      const wrongHost = this.hosts.refusal(req);
      if (wrongHost !== undefined) throw new HttpRefusal(421, status.PERMISSION_DENIED, wrongHost, { connection: "close" });
      // Before the draining refusal: a probe hears "not ready" from /readyz itself, and /healthz stays 200.
      if (this.opts.probes && answerProbe(req, res, this.opts.probes)) return;
      if (this.draining) throw new HttpRefusal(503, status.UNAVAILABLE, "server shutting down", { connection: "close" });
      const url = new URL(req.url ?? "/", "http://wxtoken.invalid");
      const { route, params } = this.route(req.method ?? "GET", url.pathname);
      rpc = route.rpc;
      const body = route.body ? await this.readJson(req) : {};
      const query = route.body ? {} : Object.fromEntries(url.searchParams);
      const fields = requestFields(route.rpc, [body, query, params]);
      const call = this.callInfo(req);
      principal = this.api.authenticate(call);
      if (route.rpc === "WatchToken") {
        this.inflight.delete(res);
        return this.watch(req, res, call, principal, fields, started);
      }
      const answer = await this.unary(route, fields, principal, call.peer);
      this.send(res, 200, answer);
      this.opts.observer?.onCallEnd(rpc, status.OK, performance.now() - started, principal, "http");
    } catch (err) {
      if (err instanceof ClientAbortError) {
        // The client's doing, not a fault: nobody is left to answer.
        this.opts.log.debug({ rpc, peer: `${req.socket.remoteAddress ?? "unknown"}:${req.socket.remotePort ?? 0}` }, "HTTP request aborted by the client mid-body");
        this.opts.observer?.onCallEnd(rpc, status.CANCELLED, performance.now() - started, principal, "http");
        return;
      }
      this.fail(res, err);
      const code = err instanceof HttpRefusal ? err.code : toStatus(err).code;
      this.opts.observer?.onCallEnd(rpc, code, performance.now() - started, principal, "http");
    }
  }

  private route(method: string, path: string): { route: Route; params: Record<string, string> } {
    let allowed: string | undefined;
    for (const route of this.routes) {
      const params = route.match(path);
      if (!params) continue;
      if (route.method === method || (method === "HEAD" && route.method === "GET" && route.rpc !== "WatchToken")) return { route, params };
      allowed = route.method;
    }
    if (allowed) throw new HttpRefusal(405, status.UNIMPLEMENTED, `${method} is not allowed here; use ${allowed}`, { allow: allowed });
    throw new HttpRefusal(404, status.NOT_FOUND, `no route for ${path.slice(0, 200)}; see the google.api.http annotations in proto/wxtoken/v1/token_service.proto`);
  }

  private async readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
    const type = (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
    if (type !== "application/json") throw new HttpRefusal(415, status.INVALID_ARGUMENT, "the body must be JSON (content-type: application/json)");
    const declared = Number(req.headers["content-length"] ?? 0);
    if (declared > this.opts.maxBodyBytes) throw new HttpRefusal(413, status.RESOURCE_EXHAUSTED, `the body is over ${this.opts.maxBodyBytes} bytes`, { connection: "close" });
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of bodyChunks(req)) {
      size += chunk.length;
      if (size > this.opts.maxBodyBytes) throw new HttpRefusal(413, status.RESOURCE_EXHAUSTED, `the body is over ${this.opts.maxBodyBytes} bytes`, { connection: "close" });
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

  private callInfo(req: IncomingMessage): CallInfo {
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

  private async unary(route: Route, fields: Record<string, unknown>, principal: Principal, peer: string): Promise<Record<string, unknown>> {
    switch (route.rpc) {
      case "GetToken": {
        const r = DECODE.GetToken(fields);
        return { token: tokenJson(await this.api.getToken(principal, { appId: r.appId, agent: r.agent, kind: kindFromProto(r.kind) })) };
      }
      case "ForceRefresh": {
        const r = DECODE.ForceRefresh(fields);
        const res = await this.api.forceRefresh(principal, { appId: r.appId, agent: r.agent, kind: kindFromProto(r.kind), staleToken: r.staleToken }, peer);
        return { token: tokenJson(res.token), ...(res.refreshed ? { refreshed: true } : {}) };
      }
      case "SignJsSdk": {
        const r = DECODE.SignJsSdk(fields);
        const s = await this.api.signJsSdk(principal, { appId: r.appId, agent: r.agent, kind: signatureKindFromProto(r.kind), url: r.url, cardValues: r.cardValues });
        return signatureJson({ ...s, kind: SIGNATURE_TO_PROTO[s.kind] });
      }
      case "ListAuthorizers": {
        const r = DECODE.ListAuthorizers(fields);
        return platformJson(this.api.listAuthorizers(principal, { componentAppId: r.componentAppId, pageSize: r.pageSize, pageToken: r.pageToken, status: statusFilterFromProto(r.statusFilter) }));
      }
      case "SyncAuthorizers":
        return syncJson(await this.api.syncAuthorizers(principal, DECODE.SyncAuthorizers(fields).componentAppId));
      case "ListCredentials":
        return credentialListJson(this.api.listCredentials(principal, credentialListArgs(DECODE.ListCredentials(fields))));
      default:
        throw new Error(`no unary handler for ${route.rpc}`);
    }
  }

  private watch(req: IncomingMessage, res: ServerResponse, call: CallInfo, principal: Principal, fields: Record<string, unknown>, started: number): void {
    const r = DECODE.WatchToken(fields);
    // A reconnecting EventSource sends the last id it saw: the version it holds.
    const lastId = req.headers["last-event-id"];
    const resumed = typeof lastId === "string" && /^\d{1,15}$/.test(lastId);
    const resumeFrom = resumed ? Number(lastId) : r.knownVersion;
    // An EventSource reconnects with its first URL: a known_fingerprint there belongs to an older version.
    const fingerprint = resumed ? "" : r.knownFingerprint;
    const stream = new EventStream(res, this.opts.keepaliveSeconds * 1000, this.opts.clock, (err) => statusJson(toStatus(err, this.opts.clock.now())));
    const watcher = this.api.watch(call, principal, { appId: r.appId, agent: r.agent, kind: kindFromProto(r.kind) }, { version: resumeFrom, fingerprint }, {
      write: (token) => stream.send(String(token.version), "token", { token: tokenJson(token) }),
      onDrain: (fn) => res.once("drain", fn),
      fail: (err) => stream.fail(err),
    });
    this.streams.add(stream);
    stream.open();
    res.on("close", () => {
      watcher.close();
      this.streams.delete(stream);
      stream.close();
      this.opts.observer?.onCallEnd("WatchToken", status.OK, performance.now() - started, principal, "http");
    });
  }

  private send(res: ServerResponse, httpStatus: number, body: unknown, headers: Record<string, string> = {}): void {
    if (res.headersSent) return;
    const text = JSON.stringify(body);
    res.writeHead(httpStatus, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text), "cache-control": "no-store", ...headers });
    res.end(text);
  }

  private fail(res: ServerResponse, err: unknown): void {
    if (err instanceof HttpRefusal) {
      this.send(res, err.httpStatus, statusJson({ code: err.code, details: err.message, reason: err.httpStatus === 404 ? "NO_ROUTE" : err.httpStatus === 405 ? "METHOD_NOT_ALLOWED" : err.httpStatus === 413 ? "BODY_TOO_LARGE" : err.httpStatus === 415 ? "NOT_JSON" : err.httpStatus === 421 ? "HOST_NOT_ALLOWED" : "SHUTTING_DOWN" }), err.headers);
      return;
    }
    const mapped = toStatus(err, this.opts.clock.now());
    if (mapped.code === status.INTERNAL) this.opts.log.error({ err }, "internal error (HTTP)");
    const headers: Record<string, string> = mapped.retryDelayMs !== undefined ? { "retry-after": String(Math.ceil(mapped.retryDelayMs / 1000)) } : {};
    this.send(res, HTTP_STATUS[mapped.code] ?? 500, statusJson(mapped), headers);
  }
}

/**
 * The HTTP/JSON API's listener (off unless `http` is configured): HTTP or
 * HTTPS, its limits and Host check, the probes, draining on shutdown, and
 * each request's way through: route and body (request.ts), authentication
 * by the same TokenApi the gRPC service uses, the RPC (rpcs.ts), the answer
 * or the error (responses.ts). The routes come from the proto's
 * google.api.http annotations (routes.ts), with exactly the gRPC semantics.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { readFileSync } from "node:fs";
import { status } from "@grpc/grpc-js";
import type { TokenApi } from "../api/token-api.js";
import type { TlsFiles } from "../auth/tls-files.js";
import type { Clock } from "../clock.js";
import type { Principal } from "../core/access-policy.js";
import { ShuttingDownError } from "../errors.js";
import type { Logger } from "../log.js";
import { ClientAbortError } from "../listeners/client-abort.js";
import { httpServerOptions, limitHttpServer, type HttpLimits } from "../listeners/http-limits.js";
import { HostCheck, HostGuard } from "../listeners/host-check.js";
import { listen } from "../listeners/listen.js";
import { answerProbe, type Readiness } from "../listeners/probes.js";
import type { CallObserver } from "../grpc/hooks.js";
import { toStatus } from "../grpc/status.js";
import { requestFields } from "./json.js";
import { callInfo, findRoute, readJsonBody } from "./request.js";
import { HttpRefusal, sendError, sendJson } from "./responses.js";
import { loadRoutes, type Route } from "./routes.js";
import { UNARY, watchTokenStream } from "./rpcs.js";
import type { EventStream } from "./sse.js";

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
    this.port = await listen(this.server, this.opts.listen, "http.listen");
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
      const { route, params } = findRoute(this.routes, req.method ?? "GET", url.pathname);
      rpc = route.rpc;
      const body = route.body ? await readJsonBody(req, this.opts.maxBodyBytes) : {};
      const query = route.body ? {} : Object.fromEntries(url.searchParams);
      const fields = requestFields(route.rpc, [body, query, params]);
      const call = callInfo(req);
      const caller = (principal = this.api.authenticate(call));
      if (route.rpc === "WatchToken") {
        this.inflight.delete(res);
        const stream = watchTokenStream(this.api, req, res, call, caller, fields, {
          clock: this.opts.clock,
          keepaliveSeconds: this.opts.keepaliveSeconds,
          onClose: (ended) => {
            this.streams.delete(ended);
            this.opts.observer?.onCallEnd("WatchToken", status.OK, performance.now() - started, caller, "http");
          },
        });
        this.streams.add(stream);
        return;
      }
      sendJson(res, 200, await UNARY[route.rpc](this.api, caller, fields, call.peer));
      this.opts.observer?.onCallEnd(rpc, status.OK, performance.now() - started, principal, "http");
    } catch (err) {
      if (err instanceof ClientAbortError) {
        // The client's doing, not a fault: nobody is left to answer.
        this.opts.log.debug({ rpc, peer: `${req.socket.remoteAddress ?? "unknown"}:${req.socket.remotePort ?? 0}` }, "HTTP request aborted by the client mid-body");
        this.opts.observer?.onCallEnd(rpc, status.CANCELLED, performance.now() - started, principal, "http");
        return;
      }
      sendError(res, err, this.opts.clock, this.opts.log);
      const code = err instanceof HttpRefusal ? err.code : toStatus(err).code;
      this.opts.observer?.onCallEnd(rpc, code, performance.now() - started, principal, "http");
    }
  }
}

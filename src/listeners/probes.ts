/**
 * The HTTP probes for load balancers and orchestrators, answered on the HTTP
 * API's listener and on the metrics listener: GET /healthz (alive: the
 * process answers) and GET /readyz (ready: started, the store takes writes,
 * not shutting down). They need no credentials (a kubelet or a balancer has
 * none) and answer a status word and the state of each check: no token, no
 * secret, no app. The Host check still applies (a probe sends an IP address,
 * which is always answered).
 *
 * Readiness does not ask whether each credential holds a valid value: when
 * WeChat is down every replica would fail it at once and the balancer would
 * drop them all, while each still serves the valid tokens it holds. That is
 * what the per-credential gRPC health names and the metrics are for
 * (docs/operations.md#http-probes).
 */
import type { IncomingMessage, ServerResponse } from "node:http";

/** The checks of /readyz, in the order the body lists them. */
export type ReadinessCheck = "started" | "store" | "shutdown";

/** Checks a probe may leave out (`/readyz?exclude=store`, as kube-apiserver's /readyz does): only the store's. */
const EXCLUDABLE: ReadonlySet<string> = new Set<ReadinessCheck>(["store"]);

export class Readiness {
  private started = false;
  private stopping = false;

  constructor(
    /** Whether the store takes writes now (WxTokenServer.storeHealthy). */
    private readonly storeHealthy: () => boolean,
  ) {}

  /** Every configured credential is held and its refresher runs (values loaded from the store, the rest being fetched). */
  markStarted(): void {
    this.started = true;
  }

  /** Shutdown has begun: not ready again, whatever else happens. */
  markStopping(): void {
    this.stopping = true;
  }

  /** Each check's state; an excluded check is reported as such and does not count. */
  checks(exclude: ReadonlySet<string> = new Set()): Record<ReadinessCheck, "ok" | "failing" | "excluded"> {
    return {
      started: this.started ? "ok" : "failing",
      store: exclude.has("store") ? "excluded" : this.storeHealthy() ? "ok" : "failing",
      shutdown: this.stopping ? "failing" : "ok",
    };
  }
}

function send(req: IncomingMessage, res: ServerResponse, httpStatus: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(httpStatus, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text), "cache-control": "no-store", ...headers });
  res.end(req.method === "HEAD" ? undefined : text);
}

/** Answers GET or HEAD /healthz and /readyz and returns true; returns false (and answers nothing) for any other path. */
export function answerProbe(req: IncomingMessage, res: ServerResponse, readiness: Readiness): boolean {
  const url = new URL(req.url ?? "/", "http://probe.invalid");
  if (url.pathname !== "/healthz" && url.pathname !== "/readyz") return false;
  if (req.method !== "GET" && req.method !== "HEAD") {
    send(req, res, 405, { status: "error", message: `${url.pathname} answers GET and HEAD` }, { allow: "GET, HEAD" });
    return true;
  }
  if (url.pathname === "/healthz") {
    send(req, res, 200, { status: "alive" });
    return true;
  }
  const exclude = url.searchParams.getAll("exclude");
  const unknown = exclude.find((name) => !EXCLUDABLE.has(name));
  if (unknown !== undefined) {
    // Refused rather than ignored: a misspelt exclusion would otherwise look applied until the store fails.
    send(req, res, 400, { status: "error", message: `cannot exclude ${JSON.stringify(unknown.slice(0, 50))}: only ${[...EXCLUDABLE].join(", ")} can be` });
    return true;
  }
  const checks = readiness.checks(new Set(exclude));
  const ready = Object.values(checks).every((state) => state !== "failing");
  send(req, res, ready ? 200 : 503, { status: ready ? "ready" : "not_ready", checks });
  return true;
}

/**
 * Prometheus metrics, in a prom-client Registry of our own (never the global
 * one, so two servers in one process never mix their numbers).
 *
 * Counters and histograms are fed by events: every upstream token call (through
 * meterUpstream, a wrapper around the upstream client) and every finished RPC
 * (through `observer`, the gRPC layer's CallObserver). Gauges about tokens are
 * read from the token registry at scrape time, so they are never stale.
 * Labels are app ids, endpoints, errcodes, method and status names: never a
 * token or a secret.
 */
import { status } from "@grpc/grpc-js";
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { Clock } from "../clock.js";
import type { CallObserver } from "../server/hooks.js";
import type { AppToken } from "../token/app-token.js";
import type { TokenRegistry } from "../token/registry.js";
import { WeChatError } from "../upstream/errors.js";
import type { TokenUpstream } from "../upstream/types.js";

/** Upstream calls take tens of milliseconds, up to the upstream timeout (10 s by default). */
const REFRESH_BUCKETS = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** GetToken is answered from memory in well under a millisecond, unless it waits for a refresh. */
const RPC_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** A stream's duration is how long its subscriber stayed, not a latency. */
const STREAMING_METHODS = new Set(["WatchToken"]);

export class Metrics {
  readonly registry = new Registry();
  private apps: () => AppToken[] = () => [];
  private readonly upstreamCalls: Counter<"app_id" | "endpoint" | "errcode">;
  private readonly refreshDuration: Histogram<"app_id">;
  private readonly rpcCalls: Counter<"method" | "code">;
  private readonly rpcDuration: Histogram<"method">;

  constructor(private readonly clock: Clock) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.upstreamCalls = new Counter({
      name: "wxtoken_upstream_calls_total",
      help: 'WeChat token API calls, by app, endpoint and errcode ("0" success, "transport" timeout/connection/HTTP/body failures)',
      labelNames: ["app_id", "endpoint", "errcode"],
      registers,
    });
    this.refreshDuration = new Histogram({
      name: "wxtoken_refresh_duration_seconds",
      help: "Duration of each upstream token call (a refresh attempt), successful or not",
      labelNames: ["app_id"],
      buckets: REFRESH_BUCKETS,
      registers,
    });
    this.rpcCalls = new Counter({
      name: "wxtoken_rpc_total",
      help: "Finished TokenService calls, by method and status code name",
      labelNames: ["method", "code"],
      registers,
    });
    this.rpcDuration = new Histogram({
      name: "wxtoken_rpc_duration_seconds",
      help: "Latency of unary TokenService calls (WatchToken streams are not latencies and are left out)",
      labelNames: ["method"],
      buckets: RPC_BUCKETS,
      registers,
    });
    const now = () => this.clock.now();
    this.perApp("wxtoken_token_remaining_seconds", "Seconds until the current token expires (0 when there is no valid token)", (app) => {
      const t = app.current();
      return t ? (t.expiresAt - now()) / 1000 : 0;
    });
    this.perApp("wxtoken_token_version", "Version of the newest token held (0 before the first)", (app) => app.latest()?.version ?? 0);
    this.perApp("wxtoken_watchers", "Open WatchToken streams", (app) => app.listenerCount());
    this.perApp(
      "wxtoken_upstream_quota_used_today",
      "Upstream token calls since the last midnight China time (WeChat's quota day), as counted by this server",
      (app) => app.quota.used().used,
    );
  }

  /** The apps the per-app gauges report on, read at each scrape. */
  attach(tokens: TokenRegistry): void {
    this.apps = () => tokens.all();
  }

  /** Wraps the upstream client so that every token call is counted and timed. */
  meterUpstream(upstream: TokenUpstream): TokenUpstream {
    return {
      fetchToken: async (app, options) => {
        const started = performance.now();
        let errcode = "0";
        try {
          return await upstream.fetchToken(app, options);
        } catch (err) {
          errcode = err instanceof WeChatError ? String(err.errcode) : "transport";
          throw err;
        } finally {
          this.upstreamCalls.inc({ app_id: app.appId, endpoint: app.endpoint, errcode });
          this.refreshDuration.observe({ app_id: app.appId }, (performance.now() - started) / 1000);
        }
      },
    };
  }

  /** Counts every finished call and times the unary ones. */
  readonly observer: CallObserver = {
    onCallEnd: (method, code, durationMs) => {
      this.rpcCalls.inc({ method, code: status[code] ?? String(code) });
      if (!STREAMING_METHODS.has(method)) this.rpcDuration.observe({ method }, durationMs / 1000);
    },
  };

  /** The text exposition format, for GET /metrics. */
  scrape(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private perApp(name: string, help: string, value: (app: AppToken) => number): void {
    const apps = () => this.apps();
    new Gauge({
      name,
      help,
      labelNames: ["app_id"],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const app of apps()) this.set({ app_id: app.appId }, value(app));
      },
    });
  }
}

/** Both observers hear of every call (metrics and whatever the caller passed). */
export function bothObservers(a: CallObserver, b: CallObserver | undefined): CallObserver {
  if (!b) return a;
  return {
    onCallEnd: (...args) => {
      a.onCallEnd(...args);
      b.onCallEnd(...args);
    },
  };
}

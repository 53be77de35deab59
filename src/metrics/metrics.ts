/**
 * Prometheus metrics, in a prom-client Registry of our own (never the global
 * one, so two servers in one process never mix their numbers).
 *
 * Counters and histograms are fed by events: every upstream fetch (through
 * meterIssuer, a wrapper around each issuer) and every finished call
 * (through `observer`, the CallObserver of the gRPC and HTTP layers). Gauges
 * about credentials are read from the credential engine's credentials at
 * scrape time, so they are never stale.
 * Labels are app ids, endpoints, errcodes, method and status names: never a
 * token or a secret, and never a value a client or WeChat can choose
 * (labels.ts: unknown values collapse into "other").
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { Clock } from "../clock.js";
import type { CredentialEngine } from "../core/engine.js";
import type { Issuer } from "../core/issuer.js";
import type { Credential } from "../core/credential.js";
import type { CallObserver } from "../grpc/hooks.js";
import { MissingInputError } from "../upstream/errors.js";
import type { PushedPlatform } from "../platform/pushed-platform.js";
import type { ConnectionCap } from "../listeners/connection-cap.js";
import { registerConnectionMetrics } from "./connections.js";
import { codeLabel, errcodeLabel, methodLabel, infoTypeLabel } from "./labels.js";
import { registerPlatformMetrics } from "./platforms.js";
import { ServerInfoMetrics } from "./server-info.js";

/** Upstream calls take tens of milliseconds, up to the upstream timeout (10 s by default). */
const REFRESH_BUCKETS = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** GetToken is answered from memory in well under a millisecond, unless it waits for a refresh. */
const RPC_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** A stream's duration is how long its subscriber stayed, not a latency. */
const STREAMING_METHODS = new Set(["WatchToken"]);

export class Metrics {
  readonly registry = new Registry();
  /** The credentials with series of their own: the config's apps and platforms' component tokens, not a platform's accounts. */
  private readonly apps = new Set<Credential>();
  private readonly upstreamCalls: Counter<"app_id" | "agent" | "kind" | "endpoint" | "errcode">;
  private readonly refreshDuration: Histogram<"app_id" | "agent" | "kind">;
  private readonly rpcCalls: Counter<"transport" | "method" | "code">;
  private readonly rpcDuration: Histogram<"transport" | "method">;
  private readonly pushes: Counter<"component" | "info_type" | "result">;
  private readonly hostsRefused: Counter<"listener">;
  private platforms: () => Iterable<PushedPlatform> = () => [];
  /** Build, config reloads, store writes, replicas. */
  readonly server: ServerInfoMetrics;

  /** `clock`: the metrics port's refusal log uses it too. */
  constructor(readonly clock: Clock) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.upstreamCalls = new Counter({
      name: "wxtoken_upstream_calls_total",
      help: 'Upstream fetches of every credential, by app, agent, kind, endpoint and errcode ("0" success, a documented errcode, "other" an undocumented one, "transport" timeout/connection/HTTP/body failures, "quota_guard" refused by our own limits before a second call)',
      labelNames: ["app_id", "agent", "kind", "endpoint", "errcode"],
      registers,
    });
    this.refreshDuration = new Histogram({
      name: "wxtoken_refresh_duration_seconds",
      help: "Duration of each upstream fetch (a refresh attempt), successful or not",
      labelNames: ["app_id", "agent", "kind"],
      buckets: REFRESH_BUCKETS,
      registers,
    });
    this.rpcCalls = new Counter({
      name: "wxtoken_rpc_total",
      help: 'Finished TokenService calls, by transport ("grpc", "http"), method ("other": an HTTP request no route matched) and status code name',
      labelNames: ["transport", "method", "code"],
      registers,
    });
    this.rpcDuration = new Histogram({
      name: "wxtoken_rpc_duration_seconds",
      help: "Latency of unary TokenService calls, by transport and method (WatchToken streams are not latencies and are left out)",
      labelNames: ["transport", "method"],
      buckets: RPC_BUCKETS,
      registers,
    });
    this.pushes = new Counter({
      name: "wxtoken_platform_pushes_total",
      help: "Open Platform pushes received, by component appid, InfoType and result (stored, ignored, duplicate, bad_signature, stale_timestamp, ...)",
      labelNames: ["component", "info_type", "result"],
      registers,
    });
    this.hostsRefused = new Counter({
      name: "wxtoken_http_host_refused_total",
      help: "HTTP requests refused (421) for a Host header that is not a loopback name, an IP address or an allowed host (DNS rebinding), by listener (http, metrics)",
      labelNames: ["listener"],
      registers,
    });
    const now = () => this.clock.now();
    registerPlatformMetrics(this.registry, { platforms: () => this.platforms(), engine: () => this.engine, now });
    this.server = new ServerInfoMetrics(this.registry, now);
    this.perApp("wxtoken_token_remaining_seconds", "Seconds until the current value expires (0 when there is none valid)", (app) => {
      const t = app.current();
      return t ? (t.expiresAt - now()) / 1000 : 0;
    });
    this.perApp("wxtoken_token_version", "Version of the newest value held (0 before the first)", (app) => app.latest()?.version ?? 0);
    this.perApp("wxtoken_watchers", "Open WatchToken streams", (app) => app.listenerCount());
    this.perApp(
      "wxtoken_upstream_quota_used_today",
      "Upstream fetches since the last midnight China time (WeChat's quota day), as counted by this server",
      (app) => app.quota.used().used,
    );
    this.perApp(
      "wxtoken_upstream_quota_limit",
      "The daily budget of upstream fetches (quota.dailyBudget, or quota.ticketDailyBudget for a ticket): the guard refuses a fetch beyond it until midnight China time",
      (app) => app.quota.dailyBudget,
    );
    this.perApp("wxtoken_token_failing", "1 while the last refresh attempt failed (the value held, if any, is still served), else 0", (app) => (app.lastError() ? 1 : 0));
  }

  /** The credentials the per-credential gauges report on (followed as they come and go), and the platforms' lanes. */
  attach(engine: CredentialEngine): void {
    this.engine = engine;
    const follow = (c: Credential, added: boolean) => {
      if (c.lane.paced) return;
      if (added) this.apps.add(c);
      else this.apps.delete(c);
    };
    for (const c of engine.all()) follow(c, true);
    engine.onMembership((e) => follow(e.credential, e.type === "added"));
  }

  private engine: CredentialEngine | undefined;

  /** The platforms (Open Platforms, WeCom suites) the platform gauges report on. */
  attachPlatforms(platforms: ReadonlyMap<string, PushedPlatform>): void {
    this.platforms = () => platforms.values();
  }

  private connectionCaps: readonly ConnectionCap[] | undefined;

  /** The listeners' connection caps the connection metrics report on. */
  attachConnections(caps: readonly ConnectionCap[]): void {
    if (this.connectionCaps === undefined) registerConnectionMetrics(this.registry, () => this.connectionCaps ?? []);
    this.connectionCaps = caps;
  }

  /** One push the receiver answered (an InfoType wxtoken does not know counts as "other"). */
  observePush(component: string | undefined, infoType: string | undefined, result: string): void {
    this.pushes.inc({ component: component ?? "", info_type: infoTypeLabel(infoType), result });
  }

  /** One request refused for its Host header (src/listeners/host-check.ts). */
  hostRefused(listener: "http" | "metrics"): void {
    this.hostsRefused.inc({ listener });
  }

  /**
   * Wraps an issuer so that every upstream fetch is counted and timed. An
   * Open Platform's authorizers are counted under their group
   * ("platform:<component appid>") rather than one series per account: labels stay bounded at 100,000 accounts.
   */
  meterIssuer(issuer: Issuer, group?: string): Issuer {
    const labels = group === undefined ? { app_id: issuer.id.appId, agent: issuer.id.agent ?? "", kind: issuer.id.kind } : { app_id: group, agent: "", kind: issuer.id.kind };
    // The issuer stays the prototype (an issuer may keep its facts there), only fetch is wrapped.
    const metered: Issuer = Object.create(issuer) as Issuer;
    metered.fetch = async (ctx) => {
        const started = performance.now();
        let errcode = "0";
        try {
          return await issuer.fetch(ctx);
        } catch (err) {
          // Nothing was asked of WeChat: not an upstream call.
          if (err instanceof MissingInputError) {
            errcode = "none";
            throw err;
          }
          errcode = errcodeLabel(err);
          throw err;
        } finally {
          if (errcode !== "none") {
            this.upstreamCalls.inc({ ...labels, endpoint: issuer.endpoint, errcode });
            this.refreshDuration.observe(labels, (performance.now() - started) / 1000);
          }
        }
    };
    return metered;
  }

  /** Counts every finished call and times the unary ones. */
  readonly observer: CallObserver = {
    onCallEnd: (name, code, durationMs, _principal, transport = "grpc") => {
      const method = methodLabel(name);
      this.rpcCalls.inc({ transport, method, code: codeLabel(code) });
      if (!STREAMING_METHODS.has(method)) this.rpcDuration.observe({ transport, method }, durationMs / 1000);
    },
  };

  /** The text exposition format, for GET /metrics. */
  scrape(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private perApp(name: string, help: string, value: (c: Credential) => number): void {
    const apps = this.apps;
    new Gauge({
      name,
      help,
      labelNames: ["app_id", "agent", "kind"],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const c of apps) this.set({ app_id: c.id.appId, agent: c.id.agent ?? "", kind: c.id.kind }, value(c));
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

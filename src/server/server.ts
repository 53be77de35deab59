/**
 * Puts the pieces together: upstream client -> token registry -> gRPC
 * services (TokenService, health, reflection) -> listening socket; and takes
 * them apart again in order on shutdown.
 */
import { Server } from "@grpc/grpc-js";
import { TokenServiceService } from "../../generated/wxtoken/v1/token_service.js";
import { systemClock, type Clock } from "../clock.js";
import { createAuthorizer } from "../auth/authorizer.js";
import { exposureProblem, exposureWarnings } from "../auth/exposure.js";
import { serverCredentials } from "../auth/server-credentials.js";
import { ConfigError, type LoadedConfig } from "../config/load.js";
import type { Config } from "../config/schema.js";
import type { Logger } from "../log.js";
import { serveMetrics, type MetricsEndpoint } from "../metrics/http.js";
import { bothObservers, Metrics } from "../metrics/metrics.js";
import { openStore } from "../store/open-store.js";
import type { TokenStore } from "../store/store.js";
import { isCoordinator } from "../token/coordinator.js";
import type { AppToken } from "../token/app-token.js";
import { TokenRegistry, type ReconcileResult } from "../token/registry.js";
import type { Random } from "../token/schedule.js";
import type { TokenUpstream } from "../upstream/types.js";
import { WeChatClient } from "../upstream/wechat-client.js";
import { HealthService } from "./health.js";
import { closeIdleConnections } from "./idle-connections.js";
import { decodeLeniently } from "./malformed.js";
import type { Authorizer, CallObserver } from "./hooks.js";
import { addReflection } from "./reflection.js";
import { RateLimiter } from "./rate-limit.js";
import { TokenServiceImpl } from "./token-service.js";

export const TOKEN_SERVICE_NAME = "wxtoken.v1.TokenService";

/** The health service name of one app. */
export function appHealthName(appId: string): string {
  return `${TOKEN_SERVICE_NAME}/${appId}`;
}

/**
 * Channel options. Keepalive pings keep idle watch streams alive through load
 * balancers that drop idle connections (grpc-js leaves keepalive off by
 * default); a max connection age with a finite grace lets clients rebalance.
 */
export const SERVER_CHANNEL_OPTIONS = {
  "grpc.keepalive_time_ms": 30_000,
  "grpc.keepalive_timeout_ms": 10_000,
  "grpc.keepalive_permit_without_calls": 1,
  "grpc.http2.min_ping_interval_without_data_ms": 10_000,
  "grpc.max_connection_age_ms": 30 * 60_000,
  "grpc.max_connection_age_grace_ms": 60_000,
  // A connection with no call for 5 minutes is closed (GOAWAY): idle clients
  // reconnect when they next call, and abandoned connections do not pile up.
  // A connection with an open watch stream is never idle.
  "grpc.max_connection_idle_ms": 5 * 60_000,
  "grpc.max_receive_message_length": 64 * 1024,
  "grpc.max_send_message_length": 1024 * 1024,
};

export interface ServerDeps {
  log: Logger;
  clock?: Clock;
  random?: Random;
  /** Defaults to a WeChatClient built from the config's upstream section. */
  upstream?: TokenUpstream;
  /** Defaults to the store the config names. */
  store?: TokenStore;
  /** Who may call what; defaults to the config's auth section (everyone, everything when it has none). */
  authorizer?: Authorizer;
  /** Told about every finished call (besides the metrics). */
  observer?: CallObserver;
  /** Prometheus metrics; by default made when the config has a `metrics` section, which also opens its HTTP port. */
  metrics?: Metrics;
}

export class WxTokenServer {
  readonly grpc: Server;
  readonly health = new HealthService();
  readonly tokens: TokenServiceImpl;
  readonly metrics: Metrics | undefined;
  private metricsEndpoint: MetricsEndpoint | undefined;
  private port = 0;
  /** The address listen() bound, for the exposure check of a reload. */
  private boundAddress: string | undefined;
  private closing: Promise<void> | undefined;

  private constructor(
    readonly registry: TokenRegistry,
    readonly store: TokenStore,
    private readonly upstream: TokenUpstream & { close?: () => Promise<void> },
    private loaded: LoadedConfig,
    private readonly log: Logger,
    deps: ServerDeps,
  ) {
    this.grpc = new Server(SERVER_CHANNEL_OPTIONS);
    this.metrics = deps.metrics;
    this.metrics?.attach(registry);
    this.tokens = new TokenServiceImpl(registry, log, {
      authorizer: deps.authorizer,
      observer: this.metrics ? bothObservers(this.metrics.observer, deps.observer) : deps.observer,
      clock: deps.clock,
      forceRefreshLimiter: new RateLimiter(loaded.config.quota.clientForceRefreshPerMinute, deps.clock ?? systemClock),
    });
    this.grpc.addService(decodeLeniently(TokenServiceService), this.tokens.handlers());
    this.health.addTo(this.grpc);
    addReflection(this.grpc);
    this.health.set(TOKEN_SERVICE_NAME, "SERVING");
    for (const app of registry.all()) this.reportHealth(app);
  }

  private reportHealth(app: AppToken): void {
    const name = appHealthName(app.appId);
    this.health.set(name, app.healthy() ? "SERVING" : "NOT_SERVING");
    app.onHealth((healthy) => this.health.set(name, healthy ? "SERVING" : "NOT_SERVING"));
  }

  /**
   * Applies a changed config without a restart (SIGHUP): apps added, removed,
   * or with a new secret or endpoint, and the auth section. Other changes need
   * a restart; they are returned so the caller can say so.
   */
  reload(next: LoadedConfig): { apps: ReconcileResult; needsRestart: string[] } {
    const prev = this.loaded.config;
    const cfg = next.config;
    // The socket stays where it is (listen, tls and insecure need a restart):
    // a new auth section must still protect it, or nothing is applied.
    if (this.boundAddress !== undefined) {
      const exposed = exposureProblem({ insecure: prev.insecure, tls: prev.tls, auth: cfg.auth }, this.boundAddress);
      if (exposed !== undefined) throw new ConfigError(`config error at auth: ${exposed}`);
    }
    const apps = this.registry.reconcile(next.apps);
    for (const id of apps.added) this.reportHealth(this.registry.app(id));
    for (const id of apps.removed) {
      this.health.remove(appHealthName(id));
      this.tokens.endWatchesOf(id);
    }
    if (JSON.stringify(prev.auth) !== JSON.stringify(cfg.auth)) this.tokens.setAuthorizer(createAuthorizer(cfg.auth));
    const reloadable = new Set(["apps", "auth"]);
    const needsRestart = (Object.keys({ ...prev, ...cfg }) as (keyof Config)[]).filter(
      (k) => !reloadable.has(k) && JSON.stringify(prev[k]) !== JSON.stringify(cfg[k]),
    );
    this.loaded = { ...this.loaded, apps: next.apps, config: { ...prev, apps: cfg.apps, auth: cfg.auth } };
    this.log.info({ ...apps, needsRestart }, "config reloaded");
    return { apps, needsRestart };
  }

  static async create(loaded: LoadedConfig, deps: ServerDeps): Promise<WxTokenServer> {
    const { config } = loaded;
    const authorizer = deps.authorizer ?? createAuthorizer(config.auth);
    const store = deps.store ?? openStore(loaded, deps.log);
    const upstream =
      deps.upstream ??
      new WeChatClient({
        baseUrl: config.upstream.baseUrl,
        connectTimeoutMs: config.upstream.connectTimeoutMs,
        timeoutMs: config.upstream.timeoutMs,
      });
    const metrics = deps.metrics ?? (config.metrics ? new Metrics(deps.clock ?? systemClock) : undefined);
    const r = config.refresh;
    const registry = await TokenRegistry.create({
      apps: loaded.apps,
      upstream: metrics ? metrics.meterUpstream(upstream) : upstream,
      store,
      coordinator: isCoordinator(store) ? store : undefined,
      clock: deps.clock ?? systemClock,
      random: deps.random,
      log: deps.log,
      refresh: { marginMs: r.marginSeconds * 1000, jitterMs: r.jitterSeconds * 1000 },
      retry: {
        baseMs: r.retryBaseSeconds * 1000,
        maxMs: r.retryMaxSeconds * 1000,
        adminMs: r.adminRetrySeconds * 1000,
        permanentMs: r.permanentRetrySeconds * 1000,
        rateLimitMs: 60_000,
      },
      quota: {
        dailyBudget: config.quota.dailyBudget,
        forceDailyBudget: config.quota.forceRefreshDailyBudget,
        minForceIntervalMs: config.quota.minForceRefreshIntervalSeconds * 1000,
      },
    });
    return new WxTokenServer(registry, store, upstream, loaded, deps.log, { ...deps, authorizer, metrics });
  }

  /** Binds (refusing an exposed address without client authentication), then starts the refreshers. Returns the bound port. */
  async listen(address = this.loaded.config.listen): Promise<number> {
    const { config, tls } = this.loaded;
    const exposed = exposureProblem(config, address);
    if (exposed !== undefined) throw new ConfigError(`config error at insecure: ${exposed}`);
    for (const w of exposureWarnings(config, address)) this.log.warn(w);
    const { credentials, ready } = serverCredentials(tls);
    this.boundAddress = address;
    this.port = await new Promise<number>((resolve, reject) =>
      this.grpc.bindAsync(address, credentials, (err, port) => (err ? reject(err) : resolve(port))),
    );
    await ready();
    if (this.metrics && config.metrics) this.metricsEndpoint = await serveMetrics(this.metrics, config.metrics.listen, this.log);
    this.registry.start();
    const security = { tls: tls === undefined ? "off" : tls.clientCaFile ? "mutual" : "on", clients: config.auth?.clients.length ?? "open" };
    this.log.info({ address, port: this.port, apps: this.registry.all().map((a) => a.appId), store: this.store.kind, ...security }, "wxtoken listening");
    return this.port;
  }

  get boundPort(): number {
    return this.port;
  }

  /** The metrics HTTP port, when the config has a `metrics` section and the server listens. */
  get metricsPort(): number | undefined {
    return this.metricsEndpoint?.port;
  }

  /**
   * Shutdown order: NOT_SERVING (so balancers stop sending), drain (no new
   * calls; unary calls in flight may finish within the grace period), end
   * watch streams with UNAVAILABLE (clients reconnect elsewhere), force what
   * is left, stop refreshers, flush the store.
   */
  shutdown(graceMs = this.loaded.config.shutdownGraceMs): Promise<void> {
    this.closing ??= this.doShutdown(graceMs);
    return this.closing;
  }

  private async doShutdown(graceMs: number): Promise<void> {
    this.log.info({ graceMs }, "shutting down");
    const deadline = Date.now() + graceMs;
    // 1. Tell balancers and health watchers first.
    this.health.shutdown();
    // 2. Drain: no new calls; unary calls in flight may finish within the grace period.
    this.tokens.startDraining();
    const stopClosingIdle = closeIdleConnections(this.grpc);
    const closed = new Promise<void>((resolve) => this.grpc.tryShutdown(() => resolve()));
    await this.tokens.unaryDrained(graceMs);
    // 3. Watch streams never end by themselves: end them so clients reconnect elsewhere.
    this.tokens.endWatches();
    // 4. Whatever is still open after the grace period is cut.
    const left = Math.max(0, deadline - Date.now());
    let timer: NodeJS.Timeout | undefined;
    const forced = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), Math.max(left, 100))));
    if (await Promise.race([closed.then(() => false), forced])) {
      // Calls still waiting get a status clients retry; then the transport
      // has a moment to send it before whatever is left is cut.
      const answered = this.tokens.failPendingUnary();
      this.log.warn({ answered }, "grace period over; closing remaining calls");
      const sent = await Promise.race([closed.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), answered > 0 ? 100 : 0))]);
      if (!sent) this.grpc.forceShutdown();
    }
    clearTimeout(timer);
    stopClosingIdle();
    // 5. No more refreshes; a fetch in flight may land (WeChat has likely
    // issued its token, and the one it replaces dies in 5 minutes), then the
    // store is flushed.
    this.registry.stop();
    await this.registry.settle(Math.min(Math.max(deadline - Date.now(), 500), 2000));
    await this.store.close();
    await this.upstream.close?.();
    await this.metricsEndpoint?.close();
    this.log.info("stopped");
  }
}

/**
 * The composition root: from a loaded config to a running server, and back
 * apart in order. It builds the upstream clients, the issuers of every
 * configured credential, the store, the engine, the metrics and the gRPC
 * server; applies a reload; and orders the shutdown. Nothing else wires.
 */
import { systemClock, type Clock } from "./clock.js";
import { createAccessPolicy } from "./auth/access-policy.js";
import { exposureProblem, exposureWarnings, hasClientAuthentication } from "./auth/exposure.js";
import { serverCredentials } from "./auth/server-credentials.js";
import { ConfigError, type LoadedConfig } from "./config/load.js";
import type { Config } from "./config/schema.js";
import type { AccessPolicy } from "./core/access-policy.js";
import { isCoordinator } from "./core/coordinator.js";
import { soleOwner } from "./core/ownership.js";
import type { CredentialKind } from "./core/credential-id.js";
import { CredentialEngine, type ReconcileResult } from "./core/engine.js";
import type { Issuer } from "./core/issuer.js";
import type { Credential } from "./core/credential.js";
import type { HourlyLimit } from "./core/quota-guard.js";
import { SUCCESSOR_WAIT_MS, type Random } from "./core/schedule.js";
import { JsSdkSigner } from "./core/signer.js";
import type { TokenStore } from "./core/store.js";
import { familyOf } from "./issuers/app-families.js";
import { buildIssuers, sharedLimit } from "./issuers/index.js";
import type { AppEntry } from "./issuers/types.js";
import type { Logger } from "./log.js";
import { serveMetrics, type MetricsEndpoint } from "./metrics/http.js";
import { bothObservers, Metrics } from "./metrics/metrics.js";
import type { CallObserver } from "./grpc/hooks.js";
import { RateLimiter } from "./api/rate-limit.js";
import { TokenApi } from "./api/token-api.js";
import { WatchLimiter } from "./api/watch-limits.js";
import { registerWatchMetrics } from "./metrics/watches.js";
import { GrpcServer } from "./grpc/server.js";
import { HttpApi } from "./http/server.js";
import type { TokenServiceImpl } from "./grpc/token-service.js";
import { FileStore } from "./store/file-store.js";
import { MemoryStore } from "./store/memory-store.js";
import { RedisStore } from "./store/redis-store.js";
import { SqliteStore } from "./store/sqlite-store.js";
import { WeChatClient } from "./upstream/wechat-client.js";
import { PushReceiver } from "./platform/receiver.js";
import type { PushedPlatform } from "./platform/pushed-platform.js";
import { buildPlatforms, configuredSections } from "./platforms.js";
import { receiverOf } from "./config/load.js";
import { providerTokenIssuer } from "./wecomsuite/issuers.js";
import { SuitePlatform } from "./wecomsuite/suite.js";
import { planListeners, type ListenerLimits } from "./listeners/plan.js";
import { HostCheck } from "./listeners/host-check.js";
import { Readiness } from "./listeners/probes.js";
import { credentialStatus } from "./metrics/status-page.js";
import { isPlatformStore } from "./platform/store.js";

export { appHealthName, STORE_HEALTH_NAME, TOKEN_SERVICE_NAME, SERVER_CHANNEL_OPTIONS } from "./grpc/server.js";

export interface ServerDeps {
  log: Logger;
  clock?: Clock;
  random?: Random;
  /** The Official Account upstream; defaults to a WeChatClient built from the config's upstream section. */
  upstream?: WeChatClient;
  /** The WeCom upstream; defaults to a WeChatClient on upstream.wecomBaseUrl. */
  wecomUpstream?: WeChatClient;
  /** Defaults to the store the config names. */
  store?: TokenStore;
  /** Who may call what; defaults to the config's auth section (everyone, everything when it has none). */
  accessPolicy?: AccessPolicy;
  /** Told about every finished call (besides the metrics). */
  observer?: CallObserver;
  /** Prometheus metrics; by default made when the config has a `metrics` section, which also opens its HTTP port. */
  metrics?: Metrics;
}

/** The store the config names. */
export function openStore(loaded: LoadedConfig, log: Logger): TokenStore {
  const { store, upstream } = loaded.config;
  switch (store.type) {
    case "sqlite":
      return new SqliteStore({ path: loaded.storePath!, importFrom: loaded.storeImportFrom, log });
    case "file":
      return new FileStore(loaded.storePath!, log);
    case "memory":
      return new MemoryStore();
    case "redis":
      return new RedisStore({
        url: store.url,
        sentinels: store.sentinels,
        masterName: store.masterName,
        db: store.db,
        username: store.username,
        password: loaded.redisPassword?.reveal(),
        sentinelUsername: store.sentinelUsername,
        sentinelPassword: loaded.redisSentinelPassword?.reveal(),
        tls: store.tls && { caFile: loaded.redisCaFile, serverName: store.tls.serverName },
        keyPrefix: store.keyPrefix,
        // The lock must outlive the longest upstream call it covers, and a wait for a value's successor (successorAskAt).
        lockLeaseMs: Math.max(store.lockLeaseSeconds * 1000, upstream.timeoutMs + 5000 + SUCCESSOR_WAIT_MS),
        replicas: { leaseMs: store.replicaLeaseSeconds * 1000 },
        log,
      });
  }
}

/** Allowed JS-SDK page origins by "appid", "corpid/agent", "corpid" for the entry holding the corp ticket, and "@suiteid" for a suite's corps. */
function originsOf(apps: readonly AppEntry[], loaded: Pick<LoadedConfig, "suites">): Map<string, readonly string[]> {
  const origins = new Map<string, readonly string[]>(apps.flatMap((a) => familyOf(a).origins(a)));
  for (const s of loaded.suites) origins.set(`@${s.suiteId}`, s.allowedOrigins);
  return origins;
}

/** Issuers whose upstream calls the metrics count and time, when there are metrics. */
function metered(metrics: Metrics | undefined, issuers: Issuer[]): Issuer[] {
  return metrics ? issuers.map((i) => metrics.meterIssuer(i)) : issuers;
}

export class WxTokenServer {
  readonly metrics: Metrics | undefined;
  private metricsEndpoint: MetricsEndpoint | undefined;
  /** The HTTP/JSON API, when the config has an `http` section. */
  readonly http: HttpApi | undefined;
  private port = 0;
  /** The address listen() bound, for the exposure check of a reload. */
  private boundAddress: string | undefined;
  private closing: Promise<void> | undefined;
  /** What GET /readyz reports on the HTTP and metrics listeners: started, the store takes writes, not shutting down. */
  readonly readiness = new Readiness(() => this.storeHealthy());

  private constructor(
    readonly engine: CredentialEngine,
    readonly store: TokenStore,
    /** What every transport does with a request. */
    readonly api: TokenApi,
    readonly grpcServer: GrpcServer,
    /** SignJsSdk's logic (the demo signs a page with it). */
    readonly signer: JsSdkSigner,
    private readonly upstreams: WeChatClient[],
    private readonly issuers: (apps: readonly AppEntry[]) => ReturnType<typeof buildIssuers>,
    private loaded: LoadedConfig,
    private readonly log: Logger,
    metrics: Metrics | undefined,
    observer: CallObserver | undefined,
    clock: Clock,
    /** The pushed-ticket platforms (Open Platforms, WeCom suites), by id. */
    readonly platforms: ReadonlyMap<string, PushedPlatform>,
    /** Every listener's connection cap and timeouts. */
    private readonly listeners: ListenerLimits,
  ) {
    this.metrics = metrics;
    const http = loaded.config.http;
    this.http = http
      ? new HttpApi(api, {
          listen: http.listen,
          maxBodyBytes: http.maxBodyBytes,
          keepaliveSeconds: http.keepaliveSeconds,
          tls: loaded.tls,
          clock,
          log,
          observer,
          connections: listeners.http,
          // Without allowedHosts, any Host while every caller must authenticate (read per request: a reload may change auth).
          hosts: new HostCheck({ allowedHosts: http.allowedHosts, authenticated: () => hasClientAuthentication(this.loaded.config) }),
          onHostRefused: () => metrics?.hostRefused("http"),
          probes: this.readiness,
        })
      : undefined;
    const receiver = receiverOf(loaded.config);
    this.receiver =
      platforms.size > 0
        ? new PushReceiver({
            listen: receiver.listen,
            maxBodyBytes: receiver.maxBodyBytes,
            maxClockSkewMs: receiver.maxClockSkewSeconds * 1000,
            connections: listeners.receiver,
            clock,
            log,
            targets: [...platforms.values()].map((p) => ({
              path: p.push.path,
              keys: { token: p.push.messageToken.reveal(), encodingAesKey: p.push.encodingAesKey.reveal(), receiverId: p.id },
              handle: (fields) => p.handlePush(fields),
              ...(p.urlCheckIds ? { urlCheckIds: p.urlCheckIds } : {}),
            })),
            observe: metrics ? (component, infoType, result) => metrics.observePush(component, infoType, result) : undefined,
          })
        : undefined;
  }

  /** The push receiver, when `openPlatform` or a WeCom suite is configured. */
  readonly receiver: PushReceiver | undefined;

  static async create(loaded: LoadedConfig, deps: ServerDeps): Promise<WxTokenServer> {
    const { config } = loaded;
    const clock = deps.clock ?? systemClock;
    const accessPolicy = deps.accessPolicy ?? createAccessPolicy(config.auth);
    const store = deps.store ?? openStore(loaded, deps.log);
    const client = (baseUrl: string) =>
      new WeChatClient({ baseUrl, connectTimeoutMs: config.upstream.connectTimeoutMs, timeoutMs: config.upstream.timeoutMs });
    const official = deps.upstream ?? client(config.upstream.baseUrl);
    const wecom = deps.wecomUpstream ?? client(config.upstream.wecomBaseUrl);
    const metrics = deps.metrics ?? (config.metrics ? new Metrics(clock) : undefined);
    const r = config.refresh;
    const q = config.quota;
    const limits = new Map<string, HourlyLimit>();
    const issuers = (apps: readonly AppEntry[]) => {
      const built = buildIssuers(
        apps,
        {
          official,
          wecom,
          clock,
          wecomTicketsPerAgentHour: q.wecomTicketsPerAgentHour,
          wecomTicketsPerCorpHour: q.wecomTicketsPerCorpHour,
        },
        limits,
      );
      // The provider token is config, like an app's (a change needs a restart, as wecomProviders does).
      const provider = loaded.provider;
      if (provider?.secret) built.push(providerTokenIssuer({ ...provider, secret: provider.secret }, wecom));
      return metered(metrics, built);
    };
    // Replicas on Redis split the refresh work: each refreshes the credentials it owns.
    const replicas = store instanceof RedisStore ? store.replicas() : undefined;
    const engine = await CredentialEngine.create(
      {
        store,
        coordinator: isCoordinator(store) ? store : undefined,
        ownership: replicas,
        ownerGraceMs: replicas?.leaseMs,
        clock,
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
          dailyBudget: q.dailyBudget,
          forceDailyBudget: q.forceRefreshDailyBudget,
          minForceIntervalMs: q.minForceRefreshIntervalSeconds * 1000,
          ticketDailyBudget: q.ticketDailyBudget,
        },
      },
      issuers(loaded.apps),
    );
    // Joins the live set now (the store is connected): its share is known before the refreshers start.
    await replicas?.start();
    let platforms = new Map<string, PushedPlatform>();
    const sections = configuredSections(loaded);
    if (sections.length > 0) {
      if (!isPlatformStore(store)) throw new ConfigError(`config error at store: the ${store.kind} store cannot hold the tickets and long-lived secrets ${sections.join(" and ")} need`);
      platforms = await buildPlatforms(loaded, {
        store,
        clock,
        log: deps.log,
        official,
        wecom,
        engine,
        meter: (issuer, group) => (metrics ? metrics.meterIssuer(issuer, group) : issuer),
        ticketLimits: (corpId, appKey) => [
          sharedLimit(limits, `hour:${appKey}`, q.wecomTicketsPerAgentHour, `app ${appKey}`, clock),
          sharedLimit(limits, `hour:${corpId}`, q.wecomTicketsPerCorpHour, `corp ${corpId}`, clock),
        ],
      });
    }
    metrics?.attach(engine);
    metrics?.server.attachStore(store.kind, () => store.health?.healthy() ?? true);
    metrics?.server.attachReplicas(replicas ?? soleOwner, () => engine.counts());
    if (metrics && platforms.size > 0) metrics.attachPlatforms(platforms);
    const signer = new JsSdkSigner(engine, clock, originsOf(loaded.apps, loaded), (platform, corpId) => {
      const suite = platforms.get(platform);
      return suite instanceof SuitePlatform ? suite.agentOf(corpId) : undefined;
    });
    const w = config.watches;
    const tokenWatches = new WatchLimiter("token", w.tokens, deps.log, clock);
    const healthWatches = new WatchLimiter("health", { perClient: w.health.perPeer, perConnection: w.health.perConnection, total: w.health.total }, deps.log, clock);
    if (metrics) registerWatchMetrics(metrics.registry, [tokenWatches, healthWatches]);
    const api = new TokenApi(engine, { accessPolicy, forceRefreshLimiter: new RateLimiter(q.clientForceRefreshPerMinute, clock), signer, platforms, watchLimiter: tokenWatches, log: deps.log });
    const observer = metrics ? bothObservers(metrics.observer, deps.observer) : deps.observer;
    const listeners = planListeners(config, deps.log, clock);
    metrics?.attachConnections(listeners.caps);
    const grpcServer = new GrpcServer(engine, api, deps.log, { observer, clock }, listeners.grpc);
    grpcServer.health.limitWatches(healthWatches);
    grpcServer.followStore(store.health);
    return new WxTokenServer(engine, store, api, grpcServer, signer, [official, wecom], issuers, loaded, deps.log, metrics, observer, clock, platforms, listeners);
  }

  /** A configured credential: an app's access_token, or with `which` a WeCom agent's, a ticket, or a corp's through a suite (`platform`). */
  credential(appId: string, which: { kind?: CredentialKind; agent?: string; platform?: string } = {}): Credential {
    return this.engine.find({
      appId,
      kind: which.kind ?? "access_token",
      ...(which.agent !== undefined ? { agent: which.agent } : {}),
      ...(which.platform !== undefined ? { platform: which.platform } : {}),
    });
  }

  /** The TokenService implementation (watcher counts, for tests and benchmarks). */
  get tokens(): TokenServiceImpl {
    return this.grpcServer.tokens;
  }

  get health() {
    return this.grpcServer.health;
  }

  /** Whether the store takes writes (false from a write it refused until one lands): for a readiness check. */
  storeHealthy(): boolean {
    return this.store.health?.healthy() ?? true;
  }

  /**
   * Applies a changed config without a restart (SIGHUP): apps added, removed,
   * or with a new secret, endpoint or tickets, JS-SDK origins, and the auth
   * section. Other changes need a restart; they are returned so the caller can say so.
   */
  reload(next: LoadedConfig): { apps: ReconcileResult; needsRestart: string[] } {
    const prev = this.loaded.config;
    const cfg = next.config;
    // The socket stays where it is (listen, tls and insecure need a restart):
    // a new auth section must still protect it, or nothing is applied.
    for (const address of [this.boundAddress, this.http?.boundPort ? prev.http?.listen : undefined]) {
      if (address === undefined) continue;
      const exposed = exposureProblem({ insecure: prev.insecure, tls: prev.tls, auth: cfg.auth }, address);
      if (exposed !== undefined) throw new ConfigError(`config error at auth: ${exposed}`);
    }
    const { taken, ...apps } = this.engine.reconcile(this.issuers(next.apps));
    if (taken.length > 0) this.log.error({ credentials: taken }, "apps added by the reload are already served as an Open Platform's authorizers; not added");
    this.signer.setOrigins(originsOf(next.apps, this.loaded));
    if (JSON.stringify(prev.auth) !== JSON.stringify(cfg.auth)) this.api.setAccessPolicy(createAccessPolicy(cfg.auth));
    // $schema is for editors only: changing it changes nothing to restart for.
    const reloadable = new Set(["apps", "auth", "$schema"]);
    const needsRestart = (Object.keys({ ...prev, ...cfg }) as (keyof Config)[]).filter(
      (k) => !reloadable.has(k) && JSON.stringify(prev[k]) !== JSON.stringify(cfg[k]),
    );
    this.loaded = { ...this.loaded, apps: next.apps, config: { ...prev, apps: cfg.apps, auth: cfg.auth } };
    this.log.info({ ...apps, needsRestart }, "config reloaded");
    return { apps, needsRestart };
  }

  /**
   * reload() of the config `load` reads (SIGHUP: the file), counted in the
   * metrics either way: a file that does not load fails the reload as much as
   * one reload() refuses. Throws what either threw.
   */
  reloadFrom(load: () => LoadedConfig): { apps: ReconcileResult; needsRestart: string[] } {
    try {
      const applied = this.reload(load());
      this.metrics?.server.reloaded(true);
      return applied;
    } catch (err) {
      this.metrics?.server.reloaded(false);
      throw err;
    }
  }

  /**
   * Every credential whose last attempt failed (IP whitelist, quota, wrong
   * secret) tries again at once: an operator fixed the cause (SIGHUP, after
   * the reload). Our own quota guard still applies. Returns their keys.
   */
  retryFailing(): string[] {
    const keys = this.engine.retryFailing();
    if (keys.length > 0) this.log.info({ credentials: keys }, "retrying failing credentials at once");
    return keys;
  }

  /** Binds (refusing an exposed address without client authentication), then starts the refreshers. Returns the bound port. */
  async listen(address = this.loaded.config.listen): Promise<number> {
    const { config, tls } = this.loaded;
    const exposed = exposureProblem(config, address);
    if (exposed !== undefined) throw new ConfigError(`config error at insecure: ${exposed}`);
    for (const w of exposureWarnings(config, address)) this.log.warn(w);
    const { credentials, ready } = serverCredentials(tls);
    this.boundAddress = address;
    this.port = await this.grpcServer.bind(address, credentials);
    await ready();
    if (this.http) {
      const problem = exposureProblem(config, config.http!.listen);
      if (problem !== undefined) throw new ConfigError(`config error at http.listen: ${problem}`);
      await this.http.listen();
    }
    if (this.metrics && config.metrics) {
      const opts = { hosts: new HostCheck({ allowedHosts: config.metrics.allowedHosts }), probes: this.readiness, status: credentialStatus(this.engine) };
      this.metricsEndpoint = await serveMetrics(this.metrics, config.metrics.listen, this.log, this.listeners.metrics, opts);
    }
    // Serves nothing but pushes, so it may face the internet (behind the operator's HTTPS proxy).
    if (this.receiver) await this.receiver.listen();
    this.engine.start();
    for (const p of this.platforms.values()) p.start();
    this.readiness.markStarted();
    const security = { tls: tls === undefined ? "off" : tls.clientCaFile ? "mutual" : "on", clients: config.auth?.clients.length ?? "open" };
    // At scale the list would be a megabyte line: the config's apps are named, a platform's accounts counted.
    const named = [...this.engine.inGroup("config")].map((c) => c.key);
    this.log.info({ address, port: this.port, credentials: named, held: this.engine.size, store: this.store.kind, ...security }, "wxtoken listening");
    return this.port;
  }

  get boundPort(): number {
    return this.port;
  }

  /** The HTTP API's port, when the config has an `http` section and the server listens. */
  get httpPort(): number | undefined {
    return this.http?.boundPort;
  }

  /** The push receiver's port, when a pushed-ticket platform is configured and the server listens. */
  get receiverPort(): number | undefined {
    return this.receiver?.boundPort;
  }

  /** The metrics HTTP port, when the config has a `metrics` section and the server listens. */
  get metricsPort(): number | undefined {
    return this.metricsEndpoint?.port;
  }

  /** The gRPC shutdown (see GrpcServer.shutdown), then: stop refreshers, let a fetch in flight land, flush the store. */
  shutdown(graceMs = this.loaded.config.shutdownGraceMs): Promise<void> {
    this.closing ??= this.doShutdown(graceMs);
    return this.closing;
  }

  private async doShutdown(graceMs: number): Promise<void> {
    this.log.info({ graceMs }, "shutting down");
    this.readiness.markStopping();
    const deadline = Date.now() + graceMs;
    this.api.startDraining();
    // No more pushes: WeChat retries one we did not answer, elsewhere or after the restart.
    await this.receiver?.close();
    for (const p of this.platforms.values()) p.stop();
    await Promise.all([this.grpcServer.shutdown(deadline), this.http?.shutdown(deadline)]);
    // A fetch in flight may land (WeChat has likely issued its value, and the
    // one it replaces may die soon), then the store is flushed.
    this.engine.stop();
    await this.engine.settle(Math.min(Math.max(deadline - Date.now(), 500), 2000));
    for (const p of this.platforms.values()) await p.flushWrites();
    await this.store.close();
    await Promise.all(this.upstreams.map((u) => u.close()));
    await this.metricsEndpoint?.close();
    this.log.info("stopped");
  }
}

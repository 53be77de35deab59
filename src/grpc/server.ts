/**
 * The gRPC server: TokenService, health and reflection on one socket, and the
 * gRPC half of a graceful shutdown. What it serves comes from the credential
 * engine; it is put together by the composition root (src/wxtoken.ts).
 */
import { Server, type ServerCredentials } from "@grpc/grpc-js";
import { CachedTokenService } from "./encoded.js";
import type { Credential } from "../core/credential.js";
import type { Logger } from "../log.js";
import { HealthService } from "./health.js";
import { limitGrpcConnections, type GrpcLimits } from "./grpc-connections.js";
import { closeIdleConnections } from "./idle-connections.js";
import { decodeLeniently } from "./malformed.js";
import { addReflection } from "./reflection.js";
import { TokenServiceImpl, type TokenServiceOptions } from "./token-service.js";
import type { CredentialEngine } from "../core/engine.js";
import type { StoreHealth } from "../core/store.js";
import type { TokenApi } from "../api/token-api.js";

export const TOKEN_SERVICE_NAME = "wxtoken.v1.TokenService";

/** The health name of the store: SERVING while it takes writes (docs/operations.md#health). */
export const STORE_HEALTH_NAME = "wxtoken.v1.Store";

/** The health service name of one credential: its key ("wx1", "ww1/1000002", "wx1#jsapi_ticket"). */
export function appHealthName(key: string): string {
  return HEALTH_PREFIX + key;
}

const HEALTH_PREFIX = `${TOKEN_SERVICE_NAME}/`;

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
  // A connection with no call for 5 minutes (connections.grpc.idleSeconds) is closed (GOAWAY): idle clients
  // reconnect when they next call, and abandoned connections do not pile up.
  // A connection with an open watch stream is never idle.
  "grpc.max_connection_idle_ms": 5 * 60_000,
  "grpc.max_receive_message_length": 64 * 1024,
  "grpc.max_send_message_length": 1024 * 1024,
  // Channelz stays on (the default) although nothing serves it: it costs
  // about 1 KiB of heap per connection, but grpc-js fills its `sessions` map
  // only with channelz on, and closeIdleConnections needs that map at shutdown.
  // Most of a connection's cost is Node's own HTTP/2 session (nghttp2
  // allocates a 16 KiB frame buffer per session whatever the settings). No
  // option reaches it: header table size, initial window size, max frame size
  // and max session memory, patched into Node's http2 server one at a time,
  // changed nothing measurable (docs/benchmarks.md).
};

export class GrpcServer {
  readonly grpc: Server;
  readonly health = new HealthService();
  readonly tokens: TokenServiceImpl;

  constructor(
    engine: CredentialEngine,
    private readonly api: TokenApi,
    private readonly log: Logger,
    options: TokenServiceOptions,
    /** Connection cap and timeouts (connections.grpc); none: grpc-js's own behaviour. */
    private readonly limits?: GrpcLimits,
  ) {
    this.grpc = new Server(limits ? { ...SERVER_CHANNEL_OPTIONS, "grpc.max_connection_idle_ms": limits.idleMs } : SERVER_CHANNEL_OPTIONS);
    this.tokens = new TokenServiceImpl(api, log, options);
    this.grpc.addService(decodeLeniently(CachedTokenService), this.tokens.handlers());
    this.health.addTo(this.grpc);
    addReflection(this.grpc);
    this.health.set(TOKEN_SERVICE_NAME, "SERVING");
    // Per-credential health, SERVING while it holds a valid value: read from
    // the engine at each Check, followed only while watched.
    const credentialOf = (service: string): Credential | undefined =>
      service.startsWith(HEALTH_PREFIX) ? engine.byKey(service.slice(HEALTH_PREFIX.length)) : undefined;
    this.health.setDynamic({
      status: (service) => {
        const c = credentialOf(service);
        return c === undefined ? undefined : c.healthy() ? "SERVING" : "NOT_SERVING";
      },
      follow: (service, changed) => credentialOf(service)?.onHealth(changed) ?? (() => undefined),
    });
    // A credential that comes or goes: its watchers hear SERVING/NOT_SERVING or SERVICE_UNKNOWN.
    engine.onMembership((event) => this.health.changed(appHealthName(event.credential.key)));
  }

  /**
   * Reports the store as STORE_HEALTH_NAME: NOT_SERVING while it refuses
   * writes. Not the overall status: valid tokens are still served from
   * memory, and a probe that restarted the process for it would lose what
   * only memory holds (refresh tokens the store refused).
   */
  followStore(store: StoreHealth | undefined): void {
    const set = (ok: boolean) => this.health.set(STORE_HEALTH_NAME, ok ? "SERVING" : "NOT_SERVING");
    set(store?.healthy() ?? true);
    store?.onChange(set);
  }

  async bind(address: string, credentials: ServerCredentials): Promise<number> {
    const port = await new Promise<number>((resolve, reject) => this.grpc.bindAsync(address, credentials, (err, port) => (err ? reject(err) : resolve(port))));
    if (this.limits) limitGrpcConnections(this.grpc, this.limits, this.log);
    return port;
  }

  /**
   * The gRPC half of shutdown: NOT_SERVING (so balancers stop sending), drain
   * (no new calls; unary calls in flight may finish within the grace period),
   * end watch streams with UNAVAILABLE (clients reconnect elsewhere), force
   * what is left at the deadline.
   */
  async shutdown(deadline: number): Promise<void> {
    // 1. Tell balancers and health watchers first.
    this.health.shutdown();
    // 2. Drain: no new calls; unary calls in flight may finish within the grace period.
    this.api.startDraining();
    const stopClosingIdle = closeIdleConnections(this.grpc);
    const closed = new Promise<void>((resolve) => this.grpc.tryShutdown(() => resolve()));
    await this.tokens.unaryDrained(Math.max(0, deadline - Date.now()));
    // 3. Watch streams never end by themselves: end them (every transport's) so clients reconnect elsewhere.
    this.api.endWatches();
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
  }
}

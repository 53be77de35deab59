// The standard gRPC health checking protocol (grpc.health.v1.Health), so load
// balancers, Kubernetes probes and grpc clients can ask whether we serve.
import { status as GrpcStatus, type Server, type ServerWritableStream } from "@grpc/grpc-js";
import {
  HealthService as HealthServiceDefinition,
  HealthCheckResponse_ServingStatus as Wire,
  type HealthCheckRequest,
  type HealthCheckResponse,
  type HealthServer,
} from "../../generated/grpc/health/v1/health.js";
import { watchClient, watchConnection, type WatchLimiter } from "../api/watch-limits.js";
import { toServiceError, toStatus } from "./status.js";

export type ServingStatus = "SERVING" | "NOT_SERVING";

type Watcher = ServerWritableStream<HealthCheckRequest, HealthCheckResponse>;

function toWire(status: ServingStatus | undefined): Wire {
  if (status === undefined) return Wire.SERVICE_UNKNOWN;
  return status === "SERVING" ? Wire.SERVING : Wire.NOT_SERVING;
}

/**
 * Names whose status is read where it lives rather than copied here: one per
 * credential, and a platform may hold 100,000. Watched names are followed
 * only while someone watches them.
 */
export interface DynamicHealth {
  status(service: string): ServingStatus | undefined;
  /** Calls `changed` whenever the service's status may have changed; returns an unsubscribe. */
  follow(service: string, changed: () => void): () => void;
}

/**
 * Holds the serving status of each service name and answers Check and Watch.
 * The overall server status is the empty name "", which starts SERVING.
 */
export class HealthService {
  private readonly statuses = new Map<string, ServingStatus>([["", "SERVING"]]);
  private readonly watchers = new Map<string, Set<Watcher>>();
  /** The subscriptions of watched dynamic names. */
  private readonly followed = new Map<string, () => void>();
  private dynamic: DynamicHealth | undefined;
  private shutDown = false;
  /** Caps on open Watch streams (watches.health): they need no credentials, so each costs an attacker nothing. */
  private limiter: WatchLimiter | undefined;

  limitWatches(limiter: WatchLimiter): void {
    this.limiter = limiter;
  }

  /** Answers names not set here (each credential's) from `dynamic`. */
  setDynamic(dynamic: DynamicHealth): void {
    this.dynamic = dynamic;
  }

  /** A dynamic name's status may have changed (it appeared or went): its watchers hear of it. */
  changed(service: string): void {
    const set = this.watchers.get(service);
    if (!set) return;
    // Followed anew: the credential behind the name may be another object now.
    this.followed.get(service)?.();
    this.followed.delete(service);
    this.follow(service);
    this.notify(service);
  }

  private statusOf(service: string): ServingStatus | undefined {
    const status = this.statuses.get(service) ?? this.dynamic?.status(service);
    return status !== undefined && this.shutDown ? "NOT_SERVING" : status;
  }

  private follow(service: string): void {
    if (this.statuses.has(service) || !this.dynamic || this.followed.has(service)) return;
    this.followed.set(service, this.dynamic.follow(service, () => this.notify(service)));
  }

  /**
   * Sets a service's status; watchers hear about it only if it changed.
   * Ignored after shutdown(), so a late update cannot flip a draining server
   * back to SERVING (grpc-go's health server does the same).
   */
  set(service: string, status: ServingStatus): void {
    if (this.shutDown) return;
    if (this.statuses.get(service) === status) return;
    this.statuses.set(service, status);
    this.notify(service);
  }

  /** Forgets a service: Check answers NOT_FOUND, watchers get SERVICE_UNKNOWN. */
  remove(service: string): void {
    if (!this.statuses.delete(service)) return;
    this.notify(service);
  }

  get(service: string): ServingStatus | undefined {
    return this.statusOf(service);
  }

  /**
   * For server shutdown: every known service becomes NOT_SERVING (watchers are
   * told), then every Watch stream is ended with status OK. Ending them matters
   * because grpc-js's tryShutdown waits for open streams; OK (not UNAVAILABLE)
   * because nothing failed: the last message already says NOT_SERVING, and a
   * health-checking client treats an ended Watch as "reconnect and re-watch".
   * Later Watch calls get their status and are ended at once. Idempotent.
   */
  shutdown(): void {
    if (this.shutDown) return;
    for (const service of this.statuses.keys()) {
      this.set(service, "NOT_SERVING");
    }
    this.shutDown = true;
    for (const service of this.followed.keys()) this.notify(service);
    for (const stop of this.followed.values()) stop();
    this.followed.clear();
    for (const set of this.watchers.values()) {
      for (const call of set) call.end();
    }
    this.watchers.clear();
  }

  /** Open Watch streams (for tests and metrics: cancelled watchers must not leak). */
  watcherCount(): number {
    let n = 0;
    for (const set of this.watchers.values()) n += set.size;
    return n;
  }

  addTo(server: Server): void {
    const impl: HealthServer = {
      check: (call, callback) => {
        const status = this.statusOf(call.request.service);
        if (status === undefined) {
          const details = `unknown service: ${JSON.stringify(call.request.service)}`;
          callback({ code: GrpcStatus.NOT_FOUND, details }, null);
          return;
        }
        callback(null, { status: toWire(status) });
      },
      watch: (call) => this.watch(call),
    };
    server.addService(HealthServiceDefinition, impl);
  }

  private watch(call: Watcher): void {
    const service = call.request.service;
    let release = (): void => undefined;
    if (!this.shutDown && this.limiter) {
      // Health callers are not authenticated: counted by IP address and connection.
      const peer = call.getPeer();
      try {
        release = this.limiter.admit(watchClient(undefined, peer), watchConnection(peer));
      } catch (err) {
        call.emit("error", toServiceError(toStatus(err)));
        return;
      }
    }
    // The current status at once, SERVICE_UNKNOWN included; the stream stays
    // open so the client hears when the service appears.
    call.write({ status: toWire(this.statusOf(service)) });
    if (this.shutDown) {
      call.end();
      return;
    }
    call.on("close", release);
    let set = this.watchers.get(service);
    if (!set) this.watchers.set(service, (set = new Set()));
    set.add(call);
    this.follow(service);
    // 'close' follows both a client cancel (grpc-js destroys the stream) and
    // our own end(), so this is the one place a watcher is let go.
    call.on("close", () => this.unwatch(service, call));
  }

  private unwatch(service: string, call: Watcher): void {
    const set = this.watchers.get(service);
    if (!set) return;
    set.delete(call);
    if (set.size > 0) return;
    this.watchers.delete(service);
    this.followed.get(service)?.();
    this.followed.delete(service);
  }

  // Health changes are rare, so a slow reader's queue stays tiny; no
  // newest-wins slot is needed here, unlike WatchToken.
  private notify(service: string): void {
    const set = this.watchers.get(service);
    if (!set) return;
    const message = { status: toWire(this.statusOf(service)) };
    for (const call of set) call.write(message);
  }
}

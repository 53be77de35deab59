/**
 * The gRPC face of the token registry. Every call goes the same way:
 * authenticate -> validate -> authorize -> look up the app -> act, with any
 * failure mapped through one table (status.ts). It never talks to WeChat.
 */
import { Metadata, status, type sendUnaryData, type ServerUnaryCall, type ServerWritableStream } from "@grpc/grpc-js";
import type { TokenServiceServer } from "../../generated/wxtoken/v1/token_service.js";
import { systemClock, type Clock } from "../clock.js";
import type { Logger } from "../log.js";
import type { AppToken } from "../token/app-token.js";
import { UnknownAppError } from "../token/errors.js";
import type { TokenRegistry } from "../token/registry.js";
import { toProtoToken } from "./convert.js";
import { allowAll, observeNothing, type Authorizer, type CallInfo, type CallObserver, type Permission, type Principal } from "./hooks.js";
import { checkDecoded } from "./malformed.js";
import { clientKey, type RateLimiter } from "./rate-limit.js";
import { checkMetadataSize, ShuttingDownError, toServiceError, toStatus, validateAppId, validateStaleToken } from "./status.js";
import { Watcher, type WatchCall } from "./watch.js";

export interface TokenServiceOptions {
  authorizer?: Authorizer;
  observer?: CallObserver;
  /** Per-client limit on ForceRefresh; none when absent. */
  forceRefreshLimiter?: RateLimiter;
  /** The server's clock: turns the refresher's next attempt time into an error's retry delay. */
  clock?: Clock;
}

type AnyCall = ServerUnaryCall<unknown, unknown> | ServerWritableStream<unknown, unknown>;

function callInfo(call: AnyCall): CallInfo {
  return { metadata: call.metadata, authContext: call.getAuthContext(), peer: call.getPeer() };
}

export class TokenServiceImpl {
  private readonly watchers = new Set<Watcher>();
  /** Unary calls not yet answered, by the function that answers them with an error. */
  private readonly pendingUnary = new Set<(err: unknown) => void>();
  private draining = false;
  private authorizer: Authorizer;
  private readonly observer: CallObserver;
  private readonly limiter: RateLimiter | undefined;
  private readonly clock: Clock;

  constructor(
    private readonly registry: TokenRegistry,
    private readonly log: Logger,
    options: TokenServiceOptions = {},
  ) {
    this.authorizer = options.authorizer ?? allowAll;
    this.observer = options.observer ?? observeNothing;
    this.limiter = options.forceRefreshLimiter;
    this.clock = options.clock ?? systemClock;
  }

  handlers(): TokenServiceServer {
    return {
      getToken: (call, callback) =>
        this.unary("GetToken", call, callback, async (req, principal) => {
          const app = this.resolveApp(principal, req.appId, "read");
          return { token: toProtoToken(await app.get()) };
        }),
      forceRefresh: (call, callback) =>
        this.unary("ForceRefresh", call, callback, async (req, principal) => {
          const app = this.resolveApp(principal, req.appId, "refresh", () => validateStaleToken(req.staleToken));
          const stale = req.staleToken;
          // The per-client limit only applies to a call that would go upstream:
          // one whose stale token is already replaced, or that joins a refresh
          // under way, costs nothing and is answered whatever the limit.
          const limiter = this.limiter;
          const beforeUpstream = limiter ? () => limiter.take(clientKey(principal, { peer: call.getPeer() })) : undefined;
          const result = await app.forceRefresh(stale, principal.name, beforeUpstream);
          return { token: toProtoToken(result.token), refreshed: result.refreshed };
        }),
      watchToken: (call) => this.watch(call),
    };
  }

  watcherCount(): number {
    return this.watchers.size;
  }

  /** The largest number of undelivered tokens any watcher holds (at most 1 by design). */
  maxBacklog(): number {
    let max = 0;
    for (const w of this.watchers) max = Math.max(max, w.backlog());
    return max;
  }

  /** Unary calls still running (for the shutdown drain). */
  inflightUnary(): number {
    return this.pendingUnary.size;
  }

  /** New watch streams are refused with UNAVAILABLE from now on. */
  startDraining(): void {
    this.draining = true;
  }

  /** Resolves when no unary call is running, or after timeoutMs. */
  async unaryDrained(timeoutMs: number): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (this.pendingUnary.size > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  }

  /**
   * Uses a new authorizer (a config reload): for calls from now on, and for
   * the watch streams already open, which end with UNAUTHENTICATED or
   * PERMISSION_DENIED when their key or grant was revoked.
   */
  setAuthorizer(authorizer: Authorizer): void {
    this.authorizer = authorizer;
    for (const w of [...this.watchers]) {
      try {
        authorizer.authorize(authorizer.authenticate(callInfo(w.call)), w.appId, "read");
      } catch (err) {
        this.log.info({ appId: w.appId, reason: (err as Error).message }, "watch stream ended: access revoked");
        w.end(toServiceError(toStatus(err, this.clock.now())));
      }
    }
  }

  /** Ends the watch streams of an app that was removed from the configuration (NOT_FOUND). */
  endWatchesOf(appId: string): void {
    const ending = toServiceError(toStatus(new UnknownAppError(appId)));
    for (const w of [...this.watchers]) if (w.appId === appId) w.end(ending);
  }

  /** Ends every watch stream with UNAVAILABLE so clients reconnect elsewhere. */
  endWatches(details = "server shutting down; reconnect with known_version"): void {
    this.draining = true;
    const ending = toServiceError(toStatus(new ShuttingDownError(details)));
    for (const w of [...this.watchers]) w.end(ending);
  }

  private authenticate(call: AnyCall): Principal {
    checkMetadataSize(call.metadata);
    return this.authorizer.authenticate(callInfo(call));
  }

  /** Validate, authorize (before lookup: a denial must not reveal whether the app exists), look up. */
  private resolveApp(principal: Principal, appId: unknown, permission: Permission, validateRest?: () => void): AppToken {
    const id = validateAppId(appId);
    validateRest?.();
    this.authorizer.authorize(principal, id, permission);
    return this.registry.app(id);
  }

  private unary<Req, Res>(
    method: string,
    call: ServerUnaryCall<Req, Res>,
    callback: sendUnaryData<Res>,
    fn: (req: Req, principal: Principal) => Promise<Res>,
  ): void {
    const started = performance.now();
    let principal: Principal | undefined;
    // Answered once: by the call itself, or by failPendingUnary at shutdown.
    const fail = (err: unknown): void => {
      if (!this.pendingUnary.delete(fail)) return;
      const mapped = toStatus(err, this.clock.now());
      if (mapped.code === status.INTERNAL) this.log.error({ method, err }, "internal error");
      else this.log.debug({ method, caller: principal?.name, code: status[mapped.code], details: mapped.details }, "call failed");
      this.observer.onCallEnd(method, mapped.code, performance.now() - started, principal);
      callback(toServiceError(mapped), null);
    };
    this.pendingUnary.add(fail);
    Promise.resolve()
      .then(() => {
        principal = this.authenticate(call as AnyCall);
        checkDecoded(call.request);
        return fn(call.request, principal);
      })
      .then((res) => {
        if (!this.pendingUnary.delete(fail)) return;
        this.observer.onCallEnd(method, status.OK, performance.now() - started, principal);
        callback(null, res);
      }, fail);
  }

  /**
   * Answers every unary call still waiting (on a refresh) with UNAVAILABLE /
   * SHUTTING_DOWN, which clients retry, rather than letting the transport cut
   * them (CANCELLED, which they do not). The shutdown's last step.
   */
  failPendingUnary(): number {
    const pending = [...this.pendingUnary];
    for (const fail of pending) fail(new ShuttingDownError("server shutting down; the call was still waiting for a token"));
    return pending.length;
  }

  private watch(call: WatchCall): void {
    const started = performance.now();
    let principal: Principal | undefined;
    try {
      if (this.draining) throw new ShuttingDownError("server shutting down");
      principal = this.authenticate(call as AnyCall);
      checkDecoded(call.request);
      const app = this.resolveApp(principal, call.request.appId, "read");
      const known = Math.max(0, Number(call.request.knownVersion ?? 0));
      const who = principal;
      const watcher = new Watcher(call, app, { version: known, fingerprint: call.request.knownFingerprint ?? "" }, (w, code) => {
        this.watchers.delete(w);
        this.observer.onCallEnd("WatchToken", code, performance.now() - started, who);
      });
      this.watchers.add(watcher);
      // Response headers now: the subscription is accepted, which tells a
      // reconnecting client the stream is healthy before any token is due
      // (it sent known_version, so it may get none for hours).
      call.sendMetadata(new Metadata());
    } catch (err) {
      const mapped = toStatus(err, this.clock.now());
      this.observer.onCallEnd("WatchToken", mapped.code, performance.now() - started, principal);
      call.emit("error", toServiceError(mapped));
    }
  }
}

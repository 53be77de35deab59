/**
 * The gRPC face of the token API: decodes, authenticates, hands the request
 * to TokenApi (src/api/token-api.ts, shared with the HTTP API), and encodes
 * the answer or the failure through one table (status.ts). It never talks to
 * WeChat and decides nothing on its own.
 */
import { Metadata, status, type sendUnaryData, type ServerUnaryCall, type ServerWritableStream } from "@grpc/grpc-js";
import { SignatureKind, type TokenServiceServer, type WatchTokenRequest, type WatchTokenResponse } from "../../generated/wxtoken/v1/token_service.js";
import { systemClock, type Clock } from "../clock.js";
import type { TokenApi } from "../api/token-api.js";
import type { WatchSink } from "../api/watcher.js";
import type { CallInfo, Principal } from "../core/access-policy.js";
import type { SignatureKind as Kind } from "../core/signer.js";
import { ShuttingDownError } from "../errors.js";
import type { Logger } from "../log.js";
import {
  credentialListArgs,
  kindFromProto,
  statusFilterFromProto,
  toProtoAuthorized,
  toProtoCredentialList,
  toProtoPlatform,
  toProtoSigned,
  toProtoSync,
  toProtoToken,
} from "./convert.js";
import { responseOf } from "./encoded.js";
import { observeNothing, type CallObserver } from "./hooks.js";
import { checkDecoded } from "./malformed.js";
import { checkMetadataSize, toServiceError, toStatus } from "./status.js";

const SIGNATURE_KINDS = new Map<number, Kind>([
  [SignatureKind.SIGNATURE_KIND_UNSPECIFIED, "config"],
  [SignatureKind.SIGNATURE_KIND_CONFIG, "config"],
  [SignatureKind.SIGNATURE_KIND_AGENT_CONFIG, "agent_config"],
  [SignatureKind.SIGNATURE_KIND_CARD, "card"],
]);

/** The SignatureKind a request names; undefined for a value this server does not know. */
export function signatureKindFromProto(kind: number | undefined): Kind | undefined {
  return SIGNATURE_KINDS.get(kind ?? 0);
}

export interface TokenServiceOptions {
  observer?: CallObserver;
  /** The server's clock: turns the refresher's next attempt time into an error's retry delay. */
  clock?: Clock;
}

type WatchCall = ServerWritableStream<WatchTokenRequest, WatchTokenResponse>;

/** How long the caller can wait for an answer: until shortly before its deadline (none: no waiting). */
function waitMs(call: ServerUnaryCall<unknown, unknown>): number {
  const deadline = call.getDeadline();
  const at = deadline instanceof Date ? deadline.getTime() : deadline;
  return Number.isFinite(at) ? Math.max(0, at - Date.now() - 200) : 0;
}
type AnyCall = ServerUnaryCall<unknown, unknown> | WatchCall;

function callInfo(call: AnyCall): CallInfo {
  return { metadata: call.metadata, authContext: call.getAuthContext(), peer: call.getPeer() };
}

export class TokenServiceImpl {
  /** Unary calls not yet answered, by the function that answers them with an error. */
  private readonly pendingUnary = new Set<(err: unknown) => void>();
  private readonly observer: CallObserver;
  private readonly clock: Clock;

  constructor(
    readonly api: TokenApi,
    private readonly log: Logger,
    options: TokenServiceOptions = {},
  ) {
    this.observer = options.observer ?? observeNothing;
    this.clock = options.clock ?? systemClock;
  }

  handlers(): TokenServiceServer {
    return {
      getToken: (call, callback) =>
        this.unary("GetToken", call, callback, async (req, principal) =>
          responseOf(await this.api.getToken(principal, { appId: req.appId, agent: req.agent, kind: kindFromProto(req.kind), platformId: req.platformId }, waitMs(call))),
        ),
      forceRefresh: (call, callback) =>
        this.unary("ForceRefresh", call, callback, async (req, principal) => {
          const named = { appId: req.appId, agent: req.agent, kind: kindFromProto(req.kind), platformId: req.platformId, staleToken: req.staleToken };
          const result = await this.api.forceRefresh(principal, named, call.getPeer(), waitMs(call));
          return { token: toProtoToken(result.token), refreshed: result.refreshed };
        }),
      watchToken: (call) => this.watch(call),
      signJsSdk: (call, callback) =>
        this.unary("SignJsSdk", call, callback, async (req, principal) => {
          const s = await this.api.signJsSdk(principal, {
            appId: req.appId,
            agent: req.agent,
            platformId: req.platformId,
            kind: signatureKindFromProto(req.kind),
            url: req.url,
            cardValues: req.cardValues ?? [],
          });
          return toProtoSigned(s);
        }),
      listAuthorizers: (call, callback) =>
        this.unary("ListAuthorizers", call, callback, async (req, principal) =>
          toProtoPlatform(this.api.listAuthorizers(principal, { componentAppId: req.componentAppId, pageSize: req.pageSize, pageToken: req.pageToken, status: statusFilterFromProto(req.statusFilter) })),
        ),
      syncAuthorizers: (call, callback) =>
        this.unary("SyncAuthorizers", call, callback, async (req, principal) => toProtoSync(await this.api.syncAuthorizers(principal, req.componentAppId))),
      authorizeByCode: (call, callback) =>
        this.unary("AuthorizeByCode", call, callback, async (req, principal) => toProtoAuthorized(await this.api.authorizeByCode(principal, req.platformId, req.authCode, waitMs(call)))),
      listCredentials: (call, callback) =>
        this.unary("ListCredentials", call, callback, async (req, principal) => toProtoCredentialList(this.api.listCredentials(principal, credentialListArgs(req)))),
    };
  }

  watcherCount(): number {
    return this.api.watcherCount();
  }

  /** Unary calls still running (for the shutdown drain). */
  inflightUnary(): number {
    return this.pendingUnary.size;
  }

  /** Resolves when no unary call is running, or after timeoutMs. */
  async unaryDrained(timeoutMs: number): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (this.pendingUnary.size > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  }

  private authenticate(call: AnyCall): Principal {
    checkMetadataSize(call.metadata);
    return this.api.authenticate(callInfo(call));
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
    let code: status = status.OK;
    try {
      principal = this.authenticate(call);
      checkDecoded(call.request);
      const who = principal;
      const req = call.request;
      const sink: WatchSink = {
        write: (token) => call.write(responseOf(token)),
        onDrain: (fn) => call.once("drain", fn),
        fail: (err) => {
          const mapped = toStatus(err, this.clock.now());
          code = mapped.code;
          call.emit("error", toServiceError(mapped));
        },
      };
      const watcher = this.api.watch(
        callInfo(call),
        principal,
        { appId: req.appId, agent: req.agent, kind: kindFromProto(req.kind), platformId: req.platformId },
        { version: Math.max(0, Number(req.knownVersion ?? 0)), fingerprint: req.knownFingerprint ?? "" },
        sink,
      );
      // 'cancelled' covers client cancel and deadline; 'close'/'error' cover the rest.
      call.on("cancelled", () => {
        code = status.CANCELLED;
        watcher.close();
      });
      call.on("error", () => watcher.close());
      call.on("close", () => watcher.close());
      watcher.onClose(() => this.observer.onCallEnd("WatchToken", code, performance.now() - started, who));
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

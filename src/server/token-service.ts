/**
 * The gRPC face of the token registry. It validates, delegates and maps
 * errors through one table (status.ts); it never talks to WeChat itself.
 */
import { status, type sendUnaryData, type ServerUnaryCall } from "@grpc/grpc-js";
import type { TokenServiceServer } from "../../generated/wxtoken/v1/token_service.js";
import type { Logger } from "../log.js";
import type { TokenRegistry } from "../token/registry.js";
import { toProtoToken } from "./convert.js";
import { toServiceError, toStatus, validateAppId, validateStaleToken } from "./status.js";
import { Watcher, type WatchCall } from "./watch.js";

export class TokenServiceImpl {
  private readonly watchers = new Set<Watcher>();
  private draining = false;

  constructor(
    private readonly registry: TokenRegistry,
    private readonly log: Logger,
  ) {}

  handlers(): TokenServiceServer {
    return {
      getToken: (call, callback) =>
        this.unary("GetToken", call, callback, async (req) => {
          const token = await this.registry.app(validateAppId(req.appId)).get();
          return { token: toProtoToken(token) };
        }),
      forceRefresh: (call, callback) =>
        this.unary("ForceRefresh", call, callback, async (req) => {
          const app = this.registry.app(validateAppId(req.appId));
          const result = await app.forceRefresh(validateStaleToken(req.staleToken));
          return { token: toProtoToken(result.token), refreshed: result.refreshed };
        }),
      watchToken: (call) => this.watch(call),
    };
  }

  watcherCount(): number {
    return this.watchers.size;
  }

  /** Ends every watch stream with UNAVAILABLE so clients reconnect elsewhere. */
  endWatches(details = "server shutting down; reconnect with known_version"): void {
    this.draining = true;
    for (const w of [...this.watchers]) w.end(status.UNAVAILABLE, details);
  }

  private unary<Req, Res>(
    method: string,
    call: ServerUnaryCall<Req, Res>,
    callback: sendUnaryData<Res>,
    fn: (req: Req) => Promise<Res>,
  ): void {
    fn(call.request).then(
      (res) => callback(null, res),
      (err: unknown) => {
        const mapped = toStatus(err);
        if (mapped.code === status.INTERNAL) this.log.error({ method, err }, "internal error");
        else this.log.debug({ method, code: status[mapped.code], details: mapped.details }, "call failed");
        callback(toServiceError(mapped), null);
      },
    );
  }

  private watch(call: WatchCall): void {
    try {
      if (this.draining) throw Object.assign(new Error(), { shutdown: true });
      const app = this.registry.app(validateAppId(call.request.appId));
      const known = Math.max(0, Number(call.request.knownVersion ?? 0));
      const watcher = new Watcher(call, app, known, (w) => this.watchers.delete(w));
      this.watchers.add(watcher);
    } catch (err) {
      if ((err as { shutdown?: boolean }).shutdown) {
        call.emit("error", { code: status.UNAVAILABLE, details: "server shutting down" });
        return;
      }
      const mapped = toStatus(err);
      call.emit("error", toServiceError(mapped));
    }
  }
}

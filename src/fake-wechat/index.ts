/**
 * A fake WeChat upstream over real HTTP, for tests and the demo. It issues
 * tokens and enforces lifetimes, overlap and quotas as WeChat documents them,
 * on an injected clock, and lets callers inject faults.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { type Clock, systemClock } from "../clock.js";
import { handleControl } from "./control.js";
import { errorBody } from "./errors.js";
import { type Fault, FaultList } from "./faults.js";
import { BodyTooLargeError, htmlPage, parseJsonBody, readBody, send, sendJson, TOKEN_CONTENT_TYPE, type JsonBody } from "./http.js";
import { ROUTES, type WxRequest } from "./routes.js";
import { WeChatState } from "./state.js";
import { CallStats } from "./stats.js";

export type { Fault } from "./faults.js";

export interface FakeWeChatOptions {
  /** appid -> appsecret. */
  apps: Record<string, string>;
  /** Drives every lifetime, overlap and quota day; default systemClock. */
  clock?: Clock;
  /** Seconds, what /cgi-bin/token answers; default 7200. */
  expiresIn?: number;
  /** How long a superseded token keeps working; default 300_000. */
  overlapMs?: number;
  /** /cgi-bin/token successes per app per day; default 2000. */
  dailyQuota?: number;
  /** default 20 */
  stableForceRefreshPerDay?: number;
  /** default 30_000 */
  stableForceMinIntervalMs?: number;
  /** default 127.0.0.1 */
  host?: string;
  /** default 0 (a free port) */
  port?: number;
}

/** Not JSON, but starts like it: what a truncated answer from a broken proxy looks like. */
const GARBAGE_BODY = '{"access_token":"86_xQ9\u0000<!-- upstream reset -->';

export class FakeWeChat {
  private readonly clock: Clock;
  private readonly state: WeChatState;
  private readonly faults = new FaultList();
  private readonly stats = new CallStats();
  private readonly host: string;
  private readonly port: number;
  private server: Server | undefined;
  private baseUrl: string | undefined;
  /** Requests waiting out a delay fault; close() releases them at once. */
  private readonly delays = new Set<{ timer: NodeJS.Timeout; done: () => void }>();
  private closing = false;

  constructor(options: FakeWeChatOptions) {
    this.clock = options.clock ?? systemClock;
    this.host = options.host ?? "127.0.0.1";
    this.port = options.port ?? 0;
    this.state = new WeChatState({
      apps: options.apps,
      clock: this.clock,
      expiresIn: options.expiresIn ?? 7200,
      overlapMs: options.overlapMs ?? 300_000,
      dailyQuota: options.dailyQuota ?? 2000,
      stableForceRefreshPerDay: options.stableForceRefreshPerDay ?? 20,
      stableForceMinIntervalMs: options.stableForceMinIntervalMs ?? 30_000,
    });
  }

  /** Listens; resolves to the base URL, e.g. http://127.0.0.1:PORT. Token state survives a close()/start(). */
  async start(): Promise<string> {
    if (this.server) throw new Error("FakeWeChat already started");
    this.closing = false;
    const server = createServer((req, res) => {
      this.handle(req, res).catch(() => {
        if (!res.headersSent) send(res, 500, "text/plain", "fake-wechat internal error");
        else res.destroy();
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.port, this.host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    const { port } = server.address() as AddressInfo;
    this.server = server;
    this.baseUrl = `http://${this.host.includes(":") ? `[${this.host}]` : this.host}:${port}`;
    return this.baseUrl;
  }

  get url(): string {
    if (!this.baseUrl) throw new Error("FakeWeChat not started");
    return this.baseUrl;
  }

  /** Stops at once: keep-alive and in-flight (delayed) connections are cut, not waited for. */
  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.closing = true;
    for (const d of this.delays) {
      clearTimeout(d.timer);
      d.done();
    }
    this.delays.clear();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
    this.server = undefined;
    this.baseUrl = undefined;
  }

  /** Adds a fault; faults apply in the order injected, the first matching one wins. */
  inject(fault: Fault): void {
    this.faults.add(fault);
  }

  clearFaults(): void {
    this.faults.clear();
  }

  /** Every token of the app now answers 40001, as if someone else had refreshed it. */
  invalidateTokens(appId: string): void {
    this.state.invalidate(appId);
  }

  /** Requests received on a path (faulted ones included), for one app when given. */
  calls(path: string, appId?: string): number {
    return this.stats.callsTo(path, appId);
  }

  /** Answers carrying a token, from /cgi-bin/token and /cgi-bin/stable_token alike. */
  successfulTokenCalls(appId?: string): number {
    return this.stats.successfulTokenCalls(appId);
  }

  /** Zeroes the call counts (not the quotas, which are WeChat's state). */
  resetCounts(): void {
    this.stats.reset();
  }

  isValid(appId: string, token: string): boolean {
    return this.state.isValid(appId, token);
  }

  /** What a call made with the token (e.g. getcallbackip) would answer: 0 when it works, else the errcode (40001, 42001, ...). */
  errcodeFor(token: string): number {
    const access = this.state.checkAccess(token);
    return access.ok ? 0 : access.errcode;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://fake.invalid");
    const method = req.method ?? "GET";
    const contentType = req.headers["content-type"] ?? "";
    let body: Buffer;
    try {
      body = await readBody(req);
    } catch (err) {
      if (err instanceof BodyTooLargeError) return send(res, 413, "text/html", htmlPage(413));
      throw err;
    }
    if (url.pathname.startsWith("/_fake/")) {
      return handleControl(method, url, body, contentType, res, { faults: this.faults, stats: this.stats, state: this.state });
    }

    const route = ROUTES.get(url.pathname);
    let json: JsonBody | undefined;
    const wx: WxRequest = { method, query: url.searchParams, json: () => (json ??= parseJsonBody(body, contentType)) };
    const appId = route?.appIdOf(wx, this.state);
    this.stats.count(url.pathname, appId);

    const fault = this.faults.take(url.pathname, appId);
    if (fault?.delayMs) await this.delay(fault.delayMs);
    if (this.closing) return;
    if (fault && this.answerFault(fault, req, res, route?.contentType)) return;

    if (!route) return send(res, 404, "text/html", htmlPage(404));
    // Decided only now, after any delay, so the injected clock reads the answer's time.
    const outcome = route.handle(wx, this.state);
    if (outcome.ok) {
      if (route.tokenEndpoint && appId !== undefined) this.stats.countSuccess(appId);
      return sendJson(res, outcome.body, route.contentType);
    }
    sendJson(res, errorBody(this.clock, outcome.errcode), route.contentType);
  }

  /** Answers (or drops) per the fault; false when it was a delay only and the request proceeds. */
  private answerFault(fault: Fault, req: IncomingMessage, res: ServerResponse, contentType = TOKEN_CONTENT_TYPE): boolean {
    if (fault.drop) {
      req.socket.destroy();
    } else if (fault.httpStatus !== undefined) {
      send(res, fault.httpStatus, "text/html", htmlPage(fault.httpStatus));
    } else if (fault.garbage) {
      send(res, 200, contentType, GARBAGE_BODY);
    } else if (fault.errcode !== undefined || fault.errmsg !== undefined) {
      // An errmsg alone means "system busy" with that text.
      const callerIp = (req.socket.remoteAddress ?? "127.0.0.1").replace(/^::ffff:/, "");
      sendJson(res, errorBody(this.clock, fault.errcode ?? -1, fault.errmsg, callerIp), contentType);
    } else {
      return false;
    }
    return true;
  }

  private delay(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          this.delays.delete(entry);
          resolve();
        }, ms),
        done: resolve,
      };
      this.delays.add(entry);
    });
  }
}

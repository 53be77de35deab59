/**
 * A fake WeChat upstream over real HTTP, for tests and the demo. It issues
 * tokens and enforces lifetimes, overlap and quotas as WeChat documents them,
 * on an injected clock, and lets callers inject faults.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { listen } from "../listeners/listen.js";
import { type Clock, systemClock } from "../clock.js";
import { FakeComponent, type FakeComponentOptions } from "./component.js";
import { COMPONENT_ROUTES, componentErrorBody } from "./component-routes.js";
import { handleControl } from "./control.js";
import { errorBody } from "./errors.js";
import { type Fault, FaultList } from "./faults.js";
import { BodyTooLargeError, htmlPage, parseJsonBody, readBody, send, sendJson, TOKEN_CONTENT_TYPE, type JsonBody } from "./http.js";
import { ROUTES, type Route, type WxRequest } from "./routes.js";
import { WeChatState } from "./state.js";
import { CallStats, type RatesSnapshot } from "./stats.js";
import { type FakeSuite, type FakeSuiteOptions, makeSuites } from "./suite.js";
import { type SuiteBook, SUITE_ROUTES } from "./suite-routes.js";
import { wecomErrorBody, WECOM_ROUTES } from "./wecom-routes.js";
import { WeComState } from "./wecom.js";

export type { Fault } from "./faults.js";
export type { FakeComponent, FakeComponentOptions, PushResult } from "./component.js";
export type { AuthorizerTokenProgress } from "./component-state.js";
export type { FakeSuite, FakeSuiteOptions, SuitePushResult } from "./suite.js";
export type { UrlCheck } from "./push-sender.js";
export { seededAuthorizerAppId } from "./component-authorizers.js";
export type { RatesSnapshot } from "./stats.js";
export type { RateSnapshot } from "./rates.js";

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
  /** Seconds a JS-SDK ticket lives; default 7200. */
  ticketExpiresIn?: number;
  /** getticket successes per app and type per day; default 1000. */
  ticketDailyQuota?: number;
  /** WeCom corps: corpId -> agent (agentid or built-in app name) -> secret. Served on a second listener (wecomUrl). */
  wecom?: Record<string, Record<string, string>>;
  /** Seconds, what WeCom's gettoken and tickets answer; default 7200. */
  wecomExpiresIn?: number;
  /** WeCom ticket fetches an hour per corp (default 400) and per agent (default 100). */
  wecomTicketsPerCorpHour?: number;
  wecomTicketsPerAgentHour?: number;
  /** An Open Platform component (第三方平台): its endpoints on the main host, pushes to its pushUrl; see `component`. */
  component?: FakeComponentOptions;
  /** WeCom service providers' suites (第三方应用, 代开发 templates): their endpoints on WeCom's host (wecomUrl), pushes to each pushUrl; see `suite(id)`. */
  suites?: FakeSuiteOptions[];
  /** WeCom service providers: provider corpid -> provider_secret, for get_provider_token. */
  wecomProviders?: Record<string, string>;
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
  private readonly wecom: WeComState | undefined;
  private readonly openPlatform: FakeComponent | undefined;
  private readonly suites = new Map<string, FakeSuite>();
  private readonly suiteBook: SuiteBook | undefined;
  private wecomServer: Server | undefined;
  private wecomBase: string | undefined;
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
      ticketExpiresIn: options.ticketExpiresIn ?? 7200,
      ticketDailyQuota: options.ticketDailyQuota ?? 1000,
    });
    if (options.component) {
      this.openPlatform = new FakeComponent(options.component, this.clock, options.overlapMs ?? 300_000);
      this.state.authorizerTokens = this.openPlatform.state.authorizerTokens;
    }
    if (options.wecom || options.suites) {
      this.wecom = new WeComState({
        corps: options.wecom ?? {},
        clock: this.clock,
        expiresIn: options.wecomExpiresIn ?? 7200,
        ticketsPerCorpHour: options.wecomTicketsPerCorpHour ?? 400,
        ticketsPerAgentHour: options.wecomTicketsPerAgentHour ?? 100,
      });
    }
    if (options.suites && this.wecom) {
      const made = makeSuites(options.suites, options.wecomProviders ?? {}, this.clock, this.wecom);
      this.suites = made.suites;
      this.suiteBook = made.book;
    }
  }

  /** Listens (and WeCom's listener, when configured); resolves to the base URL, e.g. http://127.0.0.1:PORT. State survives a close()/start(). */
  async start(): Promise<string> {
    if (this.server) throw new Error("FakeWeChat already started");
    this.closing = false;
    const main = await this.listen(this.port, (req, res) => this.handle(req, res, "wechat"));
    this.server = main.server;
    this.baseUrl = main.url;
    if (this.wecom) {
      const wecom = await this.listen(0, (req, res) => this.handle(req, res, "wecom"));
      this.wecomServer = wecom.server;
      this.wecomBase = wecom.url;
    }
    this.openPlatform?.startTimer();
    for (const suite of this.suites.values()) suite.startTimer();
    return this.baseUrl;
  }

  private async listen(port: number, handle: (req: IncomingMessage, res: ServerResponse) => Promise<void>): Promise<{ server: Server; url: string }> {
    const server = createServer((req, res) => {
      handle(req, res).catch(() => {
        if (!res.headersSent) send(res, 500, "text/plain", "fake-wechat internal error");
        else res.destroy();
      });
    });
    const bound = await listen(server, { host: this.host, port });
    return { server, url: `http://${this.host.includes(":") ? `[${this.host}]` : this.host}:${bound}` };
  }

  /** The Open Platform component, when `component` is configured: pushes, authorizations, checks. */
  get component(): FakeComponent {
    if (!this.openPlatform) throw new Error("FakeWeChat: no component configured");
    return this.openPlatform;
  }

  /** A WeCom suite or 代开发 template given in `suites`: pushes, installs, checks. */
  suite(suiteId: string): FakeSuite {
    const suite = this.suites.get(suiteId);
    if (!suite) throw new Error(`FakeWeChat: no suite ${suiteId} configured`);
    return suite;
  }

  /** WeCom's base URL (upstream.wecomBaseUrl), when `wecom` or `suites` is configured and the fake started. */
  get wecomUrl(): string | undefined {
    return this.wecomBase;
  }

  get url(): string {
    if (!this.baseUrl) throw new Error("FakeWeChat not started");
    return this.baseUrl;
  }

  /** Stops at once: keep-alive and in-flight (delayed) connections are cut, not waited for. */
  async close(): Promise<void> {
    await this.openPlatform?.stop();
    await Promise.all([...this.suites.values()].map((s) => s.stop()));
    const servers = [this.server, this.wecomServer].filter((s): s is Server => s !== undefined);
    if (servers.length === 0) return;
    this.closing = true;
    for (const d of this.delays) {
      clearTimeout(d.timer);
      d.done();
    }
    this.delays.clear();
    await Promise.all(
      servers.map((server) => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        return closed;
      }),
    );
    this.server = this.wecomServer = undefined;
    this.baseUrl = this.wecomBase = undefined;
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

  /** Zeroes the call counts and rates (not the quotas, which are WeChat's state). */
  resetCounts(): void {
    this.stats.reset();
  }

  /** Requests since the last resetCounts(), and the most in any 1 s and any 60 s window (on the injected clock), in total and per path. */
  rates(): RatesSnapshot {
    return this.stats.rates();
  }

  isValid(appId: string, token: string): boolean {
    return this.state.isValid(appId, token);
  }

  /** The valid JS-SDK ticket: of an appid ("jsapi", "wx_card"), a WeCom corp ("jsapi") or "corpid/agent" ("agent_config"). */
  currentTicket(owner: string, type: string): string | undefined {
    return (this.wecom && (type === "agent_config" || !this.state.hasApp(owner)) ? this.wecom.tickets : this.state.tickets).current(owner, type);
  }

  /** The ticket stops being handed out: the next fetch issues a new one. */
  invalidateTicket(owner: string, type: string): void {
    this.state.tickets.invalidate(owner, type);
    this.wecom?.tickets.invalidate(owner, type);
  }

  /** Ticket fetches that answered a ticket, per appid or "corpid/agent" (the token's owner) and type. */
  successfulTicketCalls(owner?: string, type = "jsapi"): number {
    return this.stats.taggedSuccesses(`ticket:${type}`, owner);
  }

  /** WeCom gettoken calls that answered a token, per "corpid/agent". */
  successfulWeComTokenCalls(owner?: string): number {
    return this.stats.taggedSuccesses("wecom-token", owner);
  }

  /** WeCom cut the agent's token early: it answers 40014 and gettoken issues a new one. */
  invalidateWeComToken(corpId: string, agent: string): void {
    this.requireWeCom().invalidate(corpId, agent);
  }

  isWeComTokenValid(corpId: string, agent: string, token: string): boolean {
    return this.requireWeCom().isValid(corpId, agent, token);
  }

  private requireWeCom(): WeComState {
    if (!this.wecom) throw new Error("FakeWeChat: no wecom corps configured");
    return this.wecom;
  }

  /** What a call made with the token (e.g. getcallbackip) would answer: 0 when it works, else the errcode (40001, 42001, ...). */
  errcodeFor(token: string): number {
    const access = this.state.checkAccess(token);
    return access.ok ? 0 : access.errcode;
  }

  private async handle(req: IncomingMessage, res: ServerResponse, host: "wechat" | "wecom"): Promise<void> {
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
    if (host === "wechat" && url.pathname.startsWith("/_fake/")) {
      return handleControl(method, url, body, contentType, res, { component: this.openPlatform, suites: this.suites, faults: this.faults, stats: this.stats, state: this.state, wecom: this.wecom });
    }

    let json: JsonBody | undefined;
    const wx: WxRequest = { method, query: url.searchParams, json: () => (json ??= parseJsonBody(body, contentType)) };
    const wecom = host === "wecom" ? this.wecom! : undefined;
    const component = host === "wechat" && this.openPlatform && COMPONENT_ROUTES.has(url.pathname) ? this.openPlatform.state : undefined;
    const suites = wecom && SUITE_ROUTES.has(url.pathname) ? this.suiteBook : undefined;
    const route: Route<never> | undefined = (component ? COMPONENT_ROUTES : suites ? SUITE_ROUTES : wecom ? WECOM_ROUTES : ROUTES).get(url.pathname) as Route<never> | undefined;
    const state = (component ?? suites ?? wecom ?? this.state) as never;
    const appId = route?.appIdOf(wx, state);
    this.stats.count(url.pathname, appId, this.clock.now());
    const errorOf = (errcode: number, errmsg?: string, ip?: string) =>
      wecom ? wecomErrorBody(errcode, errmsg, ip) : component ? componentErrorBody(this.clock, errcode, errmsg, ip) : errorBody(this.clock, errcode, errmsg, ip);

    const fault = this.faults.take(url.pathname, appId);
    if (fault?.delayMs) await this.delay(fault.delayMs);
    if (this.closing) return;
    if (fault && this.answerFault(fault, req, res, route?.contentType, errorOf)) return;

    if (!route) return send(res, 404, "text/html", htmlPage(404));
    // Decided only now, after any delay, so the injected clock reads the answer's time.
    const outcome = route.handle(wx, state);
    if (outcome.ok) {
      if (route.tokenEndpoint && appId !== undefined) this.stats.countSuccess(appId);
      if (route.tag) this.stats.countTagged(route.tag(wx), appId);
      return sendJson(res, outcome.body, route.contentType);
    }
    sendJson(res, errorOf(outcome.errcode), route.contentType);
  }

  /** Answers (or drops) per the fault; false when it was a delay only and the request proceeds. */
  private answerFault(
    fault: Fault,
    req: IncomingMessage,
    res: ServerResponse,
    contentType = TOKEN_CONTENT_TYPE,
    errorOf: (errcode: number, errmsg?: string, ip?: string) => object = (c, m, ip) => errorBody(this.clock, c, m, ip),
  ): boolean {
    if (fault.drop) {
      req.socket.destroy();
    } else if (fault.httpStatus !== undefined) {
      send(res, fault.httpStatus, "text/html", htmlPage(fault.httpStatus));
    } else if (fault.garbage) {
      send(res, 200, contentType, GARBAGE_BODY);
    } else if (fault.errcode !== undefined || fault.errmsg !== undefined) {
      // An errmsg alone means "system busy" with that text.
      const callerIp = (req.socket.remoteAddress ?? "127.0.0.1").replace(/^::ffff:/, "");
      sendJson(res, errorOf(fault.errcode ?? -1, fault.errmsg, callerIp), contentType);
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

/**
 * The client library over the HTTP/JSON API, with the watch as server-sent
 * events: what TokenClient does over gRPC, for services that watch on a
 * connection of their own. A gRPC stream alone on its HTTP/2 connection
 * costs the server about 29 KiB (Node's HTTP/2 session is most of it); an
 * event stream on HTTP/1.1 about 7-10 KiB (docs/benchmarks.md). The tokens
 * are the same, and so are the errors: a TokenServiceError with the same
 * code, reason, info and retry delay, read from the JSON google.rpc.Status.
 */
import { Metadata, status } from "@grpc/grpc-js";
import { Agent, request, type Dispatcher } from "undici";
import { AuthorizeByCodeResponse, ForceRefreshResponse, GetTokenResponse, Token, credentialKindToJSON } from "../generated/wxtoken/v1/token_service.js";
import { encodeStatusDetails, STATUS_DETAILS_KEY } from "./status-details.js";
import { TokenServiceError } from "./errors.js";
import { DEFAULT_TIMEOUT_MS, required, wireWhich, type CallOptions, type ForceRefreshResult, type WatchOptions, type Which } from "./token-client.js";

export interface HttpTokenClientOptions {
  /** Sent with every request, e.g. `{ authorization: "Bearer <key>" }`. */
  headers?: Record<string, string>;
  /** Deadline of each unary call; default 5_000 ms. */
  timeoutMs?: number;
  /**
   * A watch that receives nothing (not even the server's keepalive comment,
   * every `http.keepaliveSeconds`, 15 s by default) for this long is taken for
   * a dead connection and fails with UNAVAILABLE (a TokenSource reconnects);
   * default 60_000 ms. Keep it above the server's keepalive interval.
   */
  watchIdleMs?: number;
  /** An undici dispatcher (TLS options, a proxy); default an Agent the client owns and closes. */
  dispatcher?: Dispatcher;
}

/** What an HTTP status means when the body is not a google.rpc.Status (a proxy answered). */
const CODE_OF_HTTP: Record<number, status> = {
  400: status.INVALID_ARGUMENT,
  401: status.UNAUTHENTICATED,
  403: status.PERMISSION_DENIED,
  404: status.NOT_FOUND,
  409: status.ABORTED,
  412: status.FAILED_PRECONDITION,
  429: status.RESOURCE_EXHAUSTED,
  499: status.CANCELLED,
  501: status.UNIMPLEMENTED,
  502: status.UNAVAILABLE,
  503: status.UNAVAILABLE,
  504: status.DEADLINE_EXCEEDED,
};

export class HttpTokenClient {
  readonly #base: string;
  readonly #headers: Record<string, string>;
  readonly #timeoutMs: number;
  readonly #watchIdleMs: number;
  readonly #dispatcher: Dispatcher;
  readonly #ownsDispatcher: boolean;

  /** `baseUrl`: the server's HTTP API, e.g. "http://wxtoken.internal:8080". */
  constructor(baseUrl: string, options: HttpTokenClientOptions = {}) {
    const url = new URL(baseUrl);
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new TypeError(`HttpTokenClient needs an http:// or https:// URL, got ${url.protocol}`);
    this.#base = url.href.replace(/\/+$/, "");
    this.#headers = { ...options.headers };
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!(this.#timeoutMs > 0)) throw new RangeError(`timeoutMs must be positive, got ${this.#timeoutMs}`);
    this.#watchIdleMs = options.watchIdleMs ?? 60_000;
    if (!(this.#watchIdleMs > 0)) throw new RangeError(`watchIdleMs must be positive, got ${this.#watchIdleMs}`);
    this.#dispatcher = options.dispatcher ?? new Agent();
    this.#ownsDispatcher = options.dispatcher === undefined;
  }

  /** The app's current valid token (or, with options.kind, ticket). */
  async getToken(appId: string, options: CallOptions & Which = {}): Promise<Token> {
    const json = await this.#unary("GetToken", "GET", `${this.#path(appId)}/token${this.#query(options)}`, undefined, options);
    return required("GetToken", GetTokenResponse.fromJSON(json).token);
  }

  /**
   * Passive refresh after WeChat rejected staleToken (40001, 40014, 42001); see TokenClient.forceRefresh.
   * kind, agent and platformId go in the body: a route whose body is "*" takes no query parameters.
   */
  async forceRefresh(appId: string, staleToken: string, options: CallOptions & Which = {}): Promise<ForceRefreshResult> {
    const json = await this.#unary("ForceRefresh", "POST", `${this.#path(appId)}/token:refresh`, { staleToken, ...this.#named(options) }, options);
    const res = ForceRefreshResponse.fromJSON(json);
    return { token: required("ForceRefresh", res.token), refreshed: res.refreshed };
  }

  /** Hands the server an authorization code your redirect_uri received; see TokenClient.authorizeByCode. */
  async authorizeByCode(platformId: string, authCode: string, options: CallOptions = {}): Promise<AuthorizeByCodeResponse> {
    const json = await this.#unary("AuthorizeByCode", "POST", `/v1/platforms/${encodeURIComponent(platformId)}/authorizations`, { authCode }, options);
    return AuthorizeByCodeResponse.fromJSON(json);
  }

  /**
   * The app's tokens as they come, over one event stream: the current one at
   * once (unless its version is <= knownVersion), then each new one. Throws
   * TokenServiceError when the server refuses the stream or ends it with an
   * `error` event. The request starts at the first next(); the signal,
   * return() or throw() end it at any time, a read in progress included.
   */
  watch(appId: string, options: WatchOptions = {}): AsyncGenerator<Token, void, undefined> {
    const query = this.#query(options, {
      ...(options.knownVersion ? { known_version: String(options.knownVersion) } : {}),
      ...(options.knownFingerprint ? { known_fingerprint: options.knownFingerprint } : {}),
    });
    const stop = new AbortController();
    const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
    return new Cancelling(this.#events(`${this.#path(appId)}/token:watch${query}`, { ...options, signal }), stop);
  }

  /**
   * Closes the connections, if the client made its own dispatcher: watches
   * still open end with UNAVAILABLE, calls in flight are aborted. (A
   * TokenSource ends its watch first.)
   */
  close(): void {
    if (this.#ownsDispatcher) void this.#dispatcher.destroy().catch(() => undefined);
  }

  async *#events(path: string, options: WatchOptions): AsyncGenerator<Token, void, undefined> {
    const { signal } = options;
    if (signal?.aborted) return;
    let res: Dispatcher.ResponseData;
    try {
      res = await request(this.#base + path, {
        method: "GET",
        headers: { ...this.#headers, accept: "text/event-stream" },
        signal,
        dispatcher: this.#dispatcher,
        bodyTimeout: this.#watchIdleMs,
      });
      if (res.statusCode !== 200) throw await errorOf("WatchToken", res);
      if (!/^text\/event-stream\b/.test(String(res.headers["content-type"] ?? ""))) {
        discard(res.body);
        throw new TokenServiceError("WatchToken", status.UNAVAILABLE, `answered ${String(res.headers["content-type"])}, not an event stream (a proxy in the way?)`);
      }
    } catch (err) {
      if (signal?.aborted) return;
      throw err instanceof TokenServiceError ? err : transportError("WatchToken", err);
    }
    options.onOpen?.();
    const decoder = new TextDecoder();
    let buffered = "";
    try {
      for await (const chunk of res.body) {
        // CRLF and CR end lines too (a CR at a chunk's end may be the first half of a CRLF: kept for the next).
        buffered += decoder.decode(chunk as Buffer, { stream: true });
        const held = buffered.endsWith("\r") ? "\r" : "";
        buffered = buffered.slice(0, buffered.length - held.length).replace(/\r\n?/g, "\n") + held;
        if (buffered.length > MAX_EVENT_CHARS) throw new TokenServiceError("WatchToken", status.INTERNAL, `an event longer than ${MAX_EVENT_CHARS} characters: not a wxtoken stream`);
        for (let end = buffered.indexOf("\n\n"); end >= 0; end = buffered.indexOf("\n\n")) {
          const event = parseEvent(buffered.slice(0, end));
          buffered = buffered.slice(end + 2);
          if (event.name === "token") yield required("WatchToken", Token.fromJSON((JSON.parse(event.data) as { token?: unknown }).token));
          else if (event.name === "error") throw statusError("WatchToken", JSON.parse(event.data));
        }
      }
    } catch (err) {
      if (signal?.aborted) return;
      throw err instanceof TokenServiceError ? err : transportError("WatchToken", err);
    } finally {
      discard(res.body);
    }
  }

  async #unary(method: string, verb: "GET" | "POST", path: string, body: unknown, options: CallOptions): Promise<unknown> {
    const { signal } = options;
    if (signal?.aborted) throw signal.reason;
    const timeout = AbortSignal.timeout(options.timeoutMs ?? this.#timeoutMs);
    let res: Dispatcher.ResponseData;
    try {
      res = await request(this.#base + path, {
        method: verb,
        headers: { ...this.#headers, accept: "application/json", ...(body === undefined ? {} : { "content-type": "application/json" }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
        dispatcher: this.#dispatcher,
      });
      if (res.statusCode !== 200) throw await errorOf(method, res);
      return await res.body.json();
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      if (timeout.aborted) throw new TokenServiceError(method, status.DEADLINE_EXCEEDED, `no answer within ${options.timeoutMs ?? this.#timeoutMs} ms`);
      throw err instanceof TokenServiceError ? err : transportError(method, err);
    }
  }

  #path(appId: string): string {
    return `/v1/apps/${encodeURIComponent(appId)}`;
  }

  /** The fields naming the credential beyond its app, in proto3 JSON (those left at their default left out). */
  #named(which: Which): Record<string, string> {
    const w = wireWhich(which);
    return {
      ...(w.kind !== 0 ? { kind: credentialKindToJSON(w.kind) } : {}),
      ...(w.agent !== "" ? { agent: w.agent } : {}),
      ...(w.platformId !== "" ? { platform_id: w.platformId } : {}),
    };
  }

  /** The naming fields (and `more`) as a GET route's query string. */
  #query(which: Which, more: Record<string, string> = {}): string {
    const q = new URLSearchParams({ ...more, ...this.#named(which) }).toString();
    return q ? `?${q}` : "";
  }
}

/** A token event is well under 1 KiB; a stream that never ends an event is not ours. */
const MAX_EVENT_CHARS = 1 << 20;

/**
 * The watch's async generator, with return() and throw() that end the stream
 * at once: a generator's own return() waits for the read in progress, which
 * may wait for hours for the next token.
 */
class Cancelling implements AsyncGenerator<Token, void, undefined> {
  constructor(
    private readonly inner: AsyncGenerator<Token, void, undefined>,
    private readonly stop: AbortController,
  ) {}

  next(): Promise<IteratorResult<Token, void>> {
    return this.inner.next();
  }

  return(): Promise<IteratorResult<Token, void>> {
    this.stop.abort();
    return this.inner.return();
  }

  throw(err: unknown): Promise<IteratorResult<Token, void>> {
    this.stop.abort();
    return this.inner.throw(err);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.return();
  }
}

/** Closes a response body we are done with (undici reports a body destroyed unread as an error nobody would hear). */
function discard(body: Dispatcher.ResponseData["body"]): void {
  body.on("error", () => undefined);
  body.destroy();
}

/** One server-sent event: its name (default "message") and its data lines joined. */
function parseEvent(block: string): { name: string; data: string } {
  let name = "message";
  const data: string[] = [];
  for (const line of block.split("\n")) {
    if (line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "event") name = value;
    else if (field === "data") data.push(value);
  }
  return { name, data: data.join("\n") };
}

/** A non-200 answer as the error gRPC would have given: the server's google.rpc.Status, or the HTTP status's meaning. */
async function errorOf(method: string, res: Dispatcher.ResponseData): Promise<TokenServiceError> {
  const text = await res.body.text().catch(() => "");
  try {
    return statusError(method, JSON.parse(text));
  } catch {
    return new TokenServiceError(method, CODE_OF_HTTP[res.statusCode] ?? status.UNKNOWN, `HTTP ${res.statusCode}: ${text.slice(0, 200)}`);
  }
}

/** A JSON google.rpc.Status (with its ErrorInfo and RetryInfo) as a TokenServiceError; throws if it is not one. */
function statusError(method: string, json: unknown): TokenServiceError {
  const s = json as { code?: unknown; message?: unknown; details?: unknown };
  if (typeof s !== "object" || s === null || typeof s.code !== "number") throw new TypeError("not a google.rpc.Status");
  const details = Array.isArray(s.details) ? (s.details as Record<string, unknown>[]) : [];
  const info = details.find((d) => d["@type"] === "type.googleapis.com/google.rpc.ErrorInfo");
  const retry = details.find((d) => d["@type"] === "type.googleapis.com/google.rpc.RetryInfo");
  const message = typeof s.message === "string" ? s.message : "";
  const metadata = new Metadata();
  if (info && typeof info["reason"] === "string") {
    const delay = typeof retry?.["retryDelay"] === "string" ? Math.round(parseFloat(retry["retryDelay"]) * 1000) : undefined;
    metadata.set(
      STATUS_DETAILS_KEY,
      encodeStatusDetails({ code: s.code, details: message, reason: info["reason"], metadata: (info["metadata"] ?? {}) as Record<string, string>, retryDelayMs: delay }),
    );
  }
  return new TokenServiceError(method, s.code as status, message, metadata);
}

/** The server could not be reached or the connection broke: UNAVAILABLE, as grpc-js says it. */
function transportError(method: string, err: unknown): TokenServiceError {
  const e = new TokenServiceError(method, status.UNAVAILABLE, err instanceof Error ? err.message : String(err));
  return Object.assign(e, { cause: err });
}

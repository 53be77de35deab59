/**
 * TokenSource (go-spiffe's X509Source): create() resolves once the first token
 * has arrived over WatchToken (gRPC, `address`) or the HTTP API's event stream
 * (`url`); from then on a watcher keeps a local copy current, so token() is a
 * synchronous read from memory, never a network call. It never hands out an
 * expired token.
 */
import type { Token } from "../generated/wxtoken/v1/token_service.js";
import { systemClock, type Clock } from "./clock.js";
import { Backoff, type BackoffOptions, type Random } from "./backoff.js";
import { PERMANENT_CODES, TokenExpiredError, TokenServiceError, TokenSourceClosedError, TokenSourceTimeoutError } from "./errors.js";
import { HttpTokenClient, type HttpTokenClientOptions } from "./http-token-client.js";
import { credentialKindName, type CredentialKindSpelling } from "./kinds.js";
import { TokenClient, type CallOptions, type ForceRefreshResult, type TokenClientOptions, type Which } from "./token-client.js";
import { isNewer } from "./token-order.js";
import { TokenWatcher } from "./watcher.js";
import { withToken, type WithTokenOptions } from "./with-token.js";

export interface TokenSourceOptions {
  /** The WeChat appid (or WeCom corpid) whose token to hold. */
  appId: string;
  /** Which credential: default the access_token; or a ticket in any spelling ("jsapi_ticket", "jsapi", ...). An unknown kind rejects create() at once with InvalidKindError. */
  kind?: CredentialKindSpelling;
  /** WeCom: the agentid or built-in app name. */
  agent?: string;
  /** WeCom service providers: the suite id through which the corp (appId) installed the suite's app (no agent then). */
  platformId?: string;
  /** The server's gRPC address, e.g. "wxtoken.internal:50051". Give one of `address`, `url` or `client`. */
  address?: string;
  /** Used with `address` to build the client the source owns (and closes). */
  clientOptions?: TokenClientOptions;
  /**
   * The server's HTTP API, e.g. "http://wxtoken.internal:8080": the watch is a
   * server-sent event stream on an HTTP/1.1 connection, which costs the server
   * about a quarter of the memory of a gRPC stream alone on its connection.
   */
  url?: string;
  /** Used with `url` (headers such as an API key, a dispatcher for TLS). */
  httpOptions?: HttpTokenClientOptions;
  /** A client to share (gRPC or HTTP); the source does not close it. */
  client?: SourceClient;
  /** How long create() waits for the first token; default 10_000 ms. */
  timeoutMs?: number;
  /** For the create() timeout, reconnect delays and expiry checks; default the system clock. */
  clock?: Clock;
  /** Jitter source for reconnect delays; default Math.random. */
  random?: Random;
  /** Reconnect delays; default 1 s doubling up to 30 s, ±20 % jitter. */
  backoff?: Omit<BackoffOptions, "random">;
}

/** What a TokenSource needs of its client. */
export type SourceClient = Pick<TokenClient, "watch" | "forceRefresh" | "close">;

export type UpdateListener = (token: Token) => void;
/** The watch stream failed; the source reconnects by itself after retryInMs. */
export type ErrorListener = (err: TokenServiceError, retryInMs: number) => void;

interface FirstToken {
  resolve: () => void;
  reject: (err: Error) => void;
}

export class TokenSource {
  readonly appId: string;
  /** The kind and agent held (besides appId). */
  readonly which: Which;
  readonly #client: SourceClient;
  readonly #ownsClient: boolean;
  readonly #clock: Clock;
  readonly #watcher: TokenWatcher;
  readonly #updateListeners = new Set<UpdateListener>();
  readonly #errorListeners = new Set<ErrorListener>();
  #token: Token | undefined;
  #lastError: TokenServiceError | undefined;
  #first: FirstToken | undefined;
  #closing: Promise<void> | undefined;

  private constructor(options: TokenSourceOptions, client: SourceClient, ownsClient: boolean) {
    this.appId = options.appId;
    this.which = { kind: credentialKindName(options.kind), ...(options.agent ? { agent: options.agent } : {}), ...(options.platformId ? { platformId: options.platformId } : {}) };
    this.#client = client;
    this.#ownsClient = ownsClient;
    this.#clock = options.clock ?? systemClock;
    const backoff = new Backoff({ ...options.backoff, random: options.random });
    this.#watcher = new TokenWatcher(client, options.appId, this.which, this.#clock, backoff, {
      onToken: (t) => this.#adopt(t),
      onError: (err, retryInMs) => this.#failed(err, retryInMs),
    });
  }

  /**
   * Connects and resolves once the first token has arrived. Rejects with
   * TokenSourceTimeoutError after timeoutMs, or at once with TokenServiceError
   * when the server says retrying cannot help (NOT_FOUND, INVALID_ARGUMENT, ...).
   */
  static async create(options: TokenSourceOptions): Promise<TokenSource> {
    if ([options.address, options.url, options.client].filter((x) => x !== undefined).length !== 1) {
      throw new TypeError("TokenSource.create needs exactly one of address, url or client");
    }
    credentialKindName(options.kind); // an unknown kind fails here, not after timeoutMs of retries
    const timeoutMs = options.timeoutMs ?? 10_000;
    if (!(timeoutMs > 0)) throw new RangeError(`timeoutMs must be positive, got ${timeoutMs}`);
    const client = options.client ?? (options.url !== undefined ? new HttpTokenClient(options.url, options.httpOptions) : new TokenClient(options.address!, options.clientOptions));
    const source = new TokenSource(options, client, options.client === undefined);
    try {
      await source.#waitForFirstToken(timeoutMs);
    } catch (err) {
      await source.close();
      throw err;
    }
    return source;
  }

  /** The access_token, from memory. Throws TokenExpiredError rather than hand out an expired one. */
  token(): string {
    return this.current().accessToken;
  }

  /** The whole current Token (version, expiry, fingerprint), under the same rules as token(). */
  current(): Token {
    if (this.#closing) throw new TokenSourceClosedError(this.appId);
    const t = this.#token!; // create() resolves only once there is one
    const expiresAt = t.expiresAt?.getTime();
    if (expiresAt === undefined || this.#clock.now() >= expiresAt) throw new TokenExpiredError(this.appId, t.version, t.expiresAt);
    return t;
  }

  /**
   * Reports a token WeChat rejected (40001, 40014, 42001) and adopts the token
   * the server answers with, without waiting for the watch stream to bring it.
   */
  async forceRefresh(staleToken: string, options: CallOptions = {}): Promise<ForceRefreshResult> {
    if (this.#closing) throw new TokenSourceClosedError(this.appId);
    const result = await this.#client.forceRefresh(this.appId, staleToken, { ...options, ...this.which });
    this.#adopt(result.token);
    return result;
  }

  /** Runs fn with the token, refreshing and retrying once if WeChat rejects it; see withToken(). */
  withToken<T>(fn: (accessToken: string) => Promise<T>, options?: WithTokenOptions): Promise<T> {
    return withToken(this, this.appId, fn, options);
  }

  /** Called with each newer token; returns an unsubscribe function. */
  onUpdate(listener: UpdateListener): () => void {
    this.#updateListeners.add(listener);
    return () => this.#updateListeners.delete(listener);
  }

  /** Called when the watch stream fails (the source reconnects by itself); returns an unsubscribe function. */
  onError(listener: ErrorListener): () => void {
    this.#errorListeners.add(listener);
    return () => this.#errorListeners.delete(listener);
  }

  /** Cancels the stream and pending reconnects, and closes the client if the source made it. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#updateListeners.clear();
      this.#errorListeners.clear();
      await this.#watcher.stop();
      if (this.#ownsClient) this.#client.close();
    })();
    return this.#closing;
  }

  #waitForFirstToken(timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = this.#clock.setTimeout(() => {
        this.#first = undefined;
        reject(new TokenSourceTimeoutError(this.appId, timeoutMs, this.#lastError));
      }, timeoutMs);
      const settle = (fn: () => void) => {
        this.#clock.clearTimeout(timer);
        this.#first = undefined;
        fn();
      };
      this.#first = { resolve: () => settle(resolve), reject: (err) => settle(() => reject(err)) };
      this.#watcher.start();
    });
  }

  #adopt(token: Token): void {
    // The stream and forceRefresh() both deliver tokens: keep only what is newer
    // (a higher version, or a restarted lineage's later token).
    if (!isNewer(token, this.#token)) return;
    this.#token = token;
    this.#first?.resolve();
    for (const listener of this.#updateListeners) callSafely(() => listener(token));
  }

  #failed(err: TokenServiceError, retryInMs: number): void {
    this.#lastError = err;
    if (!this.#token && PERMANENT_CODES.has(err.code)) this.#first?.reject(err);
    for (const listener of this.#errorListeners) callSafely(() => listener(err, retryInMs));
  }
}

/**
 * A listener's bug must not break the watch loop that called it: its error is
 * rethrown on its own tick, surfacing as an uncaught exception like an
 * EventEmitter listener's would.
 */
function callSafely(fn: () => void): void {
  try {
    fn();
  } catch (err) {
    process.nextTick(() => {
      throw err;
    });
  }
}

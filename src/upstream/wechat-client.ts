/**
 * The HTTP client for WeChat's token endpoints and for calls made with a token.
 * Every failure comes out as WeChatError or UpstreamTransportError (or the
 * caller's own abort reason), and no error ever carries the appsecret.
 */
import { Agent, type Dispatcher } from "undici";
import { UpstreamTransportError, type ErrcodeTable, type TransportFailure } from "./errors.js";
import { excerpt, parseObject, redactor, throwOnErrcode, toFetchedToken, type Redact } from "./response.js";
import type { AppCredentials, FetchedToken, FetchTokenOptions, TokenUpstream } from "./types.js";

export interface WeChatClientOptions {
  /** Default "https://api.weixin.qq.com". A path prefix is kept (for proxies). */
  baseUrl?: string;
  /** TCP (and TLS) connect timeout; default 5_000 ms. */
  connectTimeoutMs?: number;
  /** Total time for one request, body included; default 10_000 ms. */
  timeoutMs?: number;
  /** A longer token is rejected as absurd; default 2048 (WeChat says reserve 512). */
  maxTokenLength?: number;
  /** An undici dispatcher to use instead of our own Agent; its owner closes it. */
  dispatcher?: Dispatcher;
}

export interface CallApiOptions {
  /** Default: POST when there is a body, else GET. */
  method?: "GET" | "POST";
  query?: Record<string, string>;
  /** Sent as JSON. */
  body?: unknown;
  signal?: AbortSignal;
}

/** One request of an issuer: credentials in it are redacted from any error. */
export interface UpstreamRequest {
  method?: "GET" | "POST";
  query?: Record<string, string>;
  /** Sent as JSON. */
  body?: unknown;
  /** Values (secrets, tokens) that must never appear in an error. */
  redact?: readonly string[];
  /** What this endpoint family's errcodes mean (default: the Official Account token table). */
  errcodes?: ErrcodeTable;
  signal?: AbortSignal;
  /** Wait this many times the client's timeout for the answer (capped at 60 s, or the timeout if larger). */
  timeoutFactor?: number;
}

export const DEFAULT_BASE_URL = "https://api.weixin.qq.com";
const MAX_BODY_BYTES = 1024 * 1024;
/** The longest a grown timeout gets (unless the configured one is longer). */
const MAX_TIMEOUT_MS = 60_000;
/**
 * Timeouts once the request was sent: its answer was lost, and WeChat may have
 * acted on it. A connect timeout is not among them: the request never left,
 * so it is a CONNECT failure (no quota spent, nothing issued).
 */
const TIMEOUT_CODES = new Set([
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "ETIMEDOUT",
]);

interface Outgoing {
  method: "GET" | "POST";
  query?: URLSearchParams;
  body?: string;
}

export class WeChatClient implements TokenUpstream {
  readonly #origin: string;
  readonly #basePath: string;
  readonly #timeoutMs: number;
  readonly #maxTokenLength: number;
  readonly #dispatcher: Dispatcher;
  readonly #ownsDispatcher: boolean;
  #closed: Promise<void> | undefined;

  constructor(options: WeChatClientOptions = {}) {
    const base = new URL(options.baseUrl ?? DEFAULT_BASE_URL);
    if ((base.protocol !== "http:" && base.protocol !== "https:") || base.search || base.hash || base.username) {
      throw new TypeError(`baseUrl must be a plain http(s) URL, got ${base.protocol}//${base.host}`);
    }
    this.#origin = base.origin;
    this.#basePath = base.pathname.replace(/\/+$/, "");
    const connectTimeoutMs = positive("connectTimeoutMs", options.connectTimeoutMs ?? 5_000);
    this.#timeoutMs = positive("timeoutMs", options.timeoutMs ?? 10_000);
    this.#maxTokenLength = positive("maxTokenLength", options.maxTokenLength ?? 2048);
    this.#ownsDispatcher = options.dispatcher === undefined;
    this.#dispatcher =
      options.dispatcher ??
      // Header and body timeouts are set per request (an injected dispatcher needs them too).
      new Agent({ connect: { timeout: connectTimeoutMs } });
  }

  async fetchToken(app: AppCredentials, options: FetchTokenOptions = {}): Promise<FetchedToken> {
    const secret = app.secret.reveal();
    const redact = redactor([secret]);
    let path: string;
    let outgoing: Outgoing;
    if (app.endpoint === "stable_token") {
      path = "/cgi-bin/stable_token";
      const body = { grant_type: "client_credential", appid: app.appId, secret, force_refresh: options.forceRefresh === true };
      outgoing = { method: "POST", body: JSON.stringify(body) };
    } else {
      path = "/cgi-bin/token";
      outgoing = { method: "GET", query: new URLSearchParams({ grant_type: "client_credential", appid: app.appId, secret }) };
    }
    const body = await this.#exchange(path, outgoing, redact, options.signal, undefined, this.#timeout(options.timeoutFactor));
    return toFetchedToken(path, body, this.#maxTokenLength, redact);
  }

  /** One request to any endpoint (issuers use it): the JSON object answered, or a named error. */
  async request(path: string, req: UpstreamRequest = {}): Promise<Record<string, unknown>> {
    const redact = redactor(req.redact ?? []);
    const method = req.method ?? (req.body === undefined ? "GET" : "POST");
    const query = req.query ? new URLSearchParams(req.query) : undefined;
    const body = req.body === undefined ? undefined : JSON.stringify(req.body);
    return this.#exchange(path, { method, query, body }, redact, req.signal, req.errcodes, this.#timeout(req.timeoutFactor));
  }

  /** The value field of an answer (a ticket, a WeCom token), checked like a token (length, characters, expires_in). */
  valueOf(path: string, body: Record<string, unknown>, field: string, redact: readonly string[] = []): { value: string; expiresIn: number } {
    const { accessToken, expiresIn } = toFetchedToken(path, body, this.#maxTokenLength, redactor(redact), field);
    return { value: accessToken, expiresIn };
  }

  /**
   * Calls a WeChat API with an access_token, e.g. callApi("/cgi-bin/getcallbackip", token).
   * Returns the parsed JSON object; throws WeChatError for a non-zero errcode.
   */
  async callApi<T>(path: string, accessToken: string, options: CallApiOptions = {}): Promise<T> {
    if (!path.startsWith("/") || /[?#]/.test(path)) {
      throw new TypeError("callApi path must start with / and carry no query (use options.query)");
    }
    const method = options.method ?? (options.body === undefined ? "GET" : "POST");
    if (method === "GET" && options.body !== undefined) throw new TypeError("callApi: a GET has no body");
    // A token is a credential too: keep it out of errors like the secret.
    const redact = redactor([accessToken]);
    const query = new URLSearchParams(options.query);
    query.set("access_token", accessToken);
    const body = options.body === undefined ? undefined : JSON.stringify(options.body);
    return (await this.#exchange(path, { method, query, body }, redact, options.signal)) as T;
  }

  /** The timeout for one request: the configured one, times a factor after lost answers, capped. */
  #timeout(factor = 1): number {
    return Math.min(this.#timeoutMs * Math.max(1, factor), Math.max(this.#timeoutMs, MAX_TIMEOUT_MS));
  }

  /** Closes our own Agent (keep-alive sockets included); an injected dispatcher is left alone. */
  close(): Promise<void> {
    this.#closed ??= this.#ownsDispatcher ? this.#dispatcher.close() : Promise.resolve();
    return this.#closed;
  }

  /** One request: status, JSON object, errcode. Transport failures are classified here. */
  async #exchange(
    endpoint: string,
    outgoing: Outgoing,
    redact: Redact,
    signal: AbortSignal | undefined,
    errcodes?: ErrcodeTable,
    timeoutMs = this.#timeoutMs,
  ): Promise<Record<string, unknown>> {
    const { status, text } = await this.#send(endpoint, outgoing, redact, signal, timeoutMs);
    if (status !== 200) {
      throw new UpstreamTransportError(endpoint, "HTTP_STATUS", `HTTP ${status}, body ${excerpt(text, redact)}`);
    }
    const body = parseObject(endpoint, text, redact);
    throwOnErrcode(endpoint, body, redact, errcodes);
    return body;
  }

  async #send(
    endpoint: string,
    outgoing: Outgoing,
    redact: Redact,
    signal: AbortSignal | undefined,
    timeoutMs: number,
  ): Promise<{ status: number; text: string }> {
    if (signal?.aborted) throw abortError(signal);
    // One controller per request, aborted by our deadline or by the caller. Not
    // AbortSignal.any(AbortSignal.timeout(), signal): on Node 20 that keeps a
    // timer and listeners on a long-lived caller signal after every request.
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new DOMException("deadline", "TimeoutError")), timeoutMs);
    const onAbort = () => controller.abort(signal?.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    const search = outgoing.query ? `?${outgoing.query.toString()}` : "";
    try {
      const res = await this.#dispatcher.request({
        origin: this.#origin,
        path: `${this.#basePath}${endpoint}${search}`,
        method: outgoing.method,
        headers: {
          accept: "application/json",
          "user-agent": "wxtoken",
          ...(outgoing.body === undefined ? {} : { "content-type": "application/json" }),
        },
        body: outgoing.body,
        signal: controller.signal,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      let size = 0;
      const chunks: Buffer[] = [];
      for await (const chunk of res.body) {
        size += (chunk as Buffer).length;
        if (size > MAX_BODY_BYTES) {
          res.body.destroy();
          throw new UpstreamTransportError(endpoint, "BAD_BODY", `body over ${MAX_BODY_BYTES} bytes`);
        }
        chunks.push(chunk as Buffer);
      }
      return { status: res.statusCode, text: Buffer.concat(chunks).toString("utf8") };
    } catch (err) {
      // The caller's abort wins: it is not an upstream failure.
      if (signal?.aborted) throw abortError(signal);
      if (err instanceof UpstreamTransportError) throw err;
      if (controller.signal.aborted) {
        throw new UpstreamTransportError(endpoint, "TIMEOUT", `no complete answer within ${timeoutMs} ms`);
      }
      throw transportError(endpoint, err, redact);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    }
  }
}

/**
 * Wraps an undici/socket error. Only its code and redacted message survive: the
 * original (which may hold the URL, the socket, a cause chain) is dropped.
 */
function transportError(endpoint: string, err: unknown, redact: Redact): UpstreamTransportError {
  const code = errorCode(err);
  const failure: TransportFailure = code !== undefined && TIMEOUT_CODES.has(code) ? "TIMEOUT" : "CONNECT";
  const text = `${code ?? (err instanceof Error ? err.name : "error")}: ${errorMessage(err)}`;
  return new UpstreamTransportError(endpoint, failure, redact(text).slice(0, 300));
}

function errorCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string") return code;
    // Happy-eyeballs connects fail with an AggregateError of one error per address.
    if (e instanceof AggregateError && e.errors.length > 0) return errorCode(e.errors[0]);
  }
  return undefined;
}

function errorMessage(err: unknown): string {
  if (err instanceof AggregateError && !err.message) return err.errors.map(errorMessage).join("; ");
  return err instanceof Error ? err.message : String(err);
}

/** What fetch does: reject with the caller's reason, or an AbortError when it gave none. */
function abortError(signal: AbortSignal): unknown {
  const reason: unknown = signal.reason;
  return reason instanceof Error || reason instanceof DOMException
    ? reason
    : new DOMException("The operation was aborted", "AbortError");
}

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) throw new RangeError(`${name} must be a positive number, got ${value}`);
  return value;
}

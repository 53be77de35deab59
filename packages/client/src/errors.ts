/**
 * The client library's errors, as named classes (like undici's): callers
 * branch on the class and on `code`, never on message text.
 */
import { Metadata, status, type ServiceError } from "@grpc/grpc-js";
import { statusDetailsOf } from "./status-details.js";

/** A call to the wxtoken server failed with a gRPC status. */
export class TokenServiceError extends Error {
  override readonly name = "TokenServiceError";
  /** The gRPC status code, e.g. status.NOT_FOUND (5). */
  readonly code: status;
  /** The status name, e.g. "NOT_FOUND". */
  readonly codeName: string;
  /** The server's status message (WeChat's errcode, errmsg and rid when the failure came from WeChat). */
  readonly details: string;
  /** The RPC that failed: "GetToken", "ForceRefresh", "WatchToken" or "SignJsSdk". */
  readonly method: string;
  readonly metadata: Metadata;
  /**
   * The server's stable reason (google.rpc.ErrorInfo), e.g. "WECHAT_ERROR",
   * "QUOTA_EXHAUSTED", "SAME_TOKEN", "UNKNOWN_APP": branch on this. Undefined
   * when the failure did not come from a wxtoken server (a proxy, the transport).
   */
  readonly reason: string | undefined;
  /** Facts about the failure (app_id, errcode, rid, limit...), from the same ErrorInfo. */
  readonly info: Readonly<Record<string, string>>;
  /** How long the server advises waiting before retrying (google.rpc.RetryInfo), if it did. */
  readonly retryDelayMs: number | undefined;

  constructor(method: string, code: status, details: string, metadata = new Metadata()) {
    const codeName = status[code] ?? String(code);
    super(`${method} failed: ${codeName}: ${details}`);
    this.method = method;
    this.code = code;
    this.codeName = codeName;
    this.details = details;
    this.metadata = metadata;
    let d;
    try {
      d = statusDetailsOf(metadata);
    } catch {
      // Details that do not decode are as good as none.
    }
    this.reason = d?.errorInfo?.reason;
    this.info = d?.errorInfo?.metadata ?? {};
    this.retryDelayMs = d?.retryDelayMs;
  }

  /** Wraps what grpc-js rejects with; anything that is not a status error is kept as the cause. */
  static from(method: string, err: unknown): TokenServiceError {
    if (err instanceof TokenServiceError) return err;
    const e = err as Partial<ServiceError> | undefined;
    if (e && typeof e.code === "number") {
      return new TokenServiceError(method, e.code, e.details ?? e.message ?? "", e.metadata ?? new Metadata());
    }
    const wrapped = new TokenServiceError(method, status.UNKNOWN, err instanceof Error ? err.message : String(err));
    return Object.assign(wrapped, { cause: err });
  }
}

/** Statuses that will not change by retrying the same request: a TokenSource gives up on them at start. */
export const PERMANENT_CODES: ReadonlySet<status> = new Set([
  status.INVALID_ARGUMENT,
  status.NOT_FOUND,
  status.PERMISSION_DENIED,
  status.UNAUTHENTICATED,
  status.UNIMPLEMENTED,
]);

/** TokenSource.create() got no token within its timeout. */
export class TokenSourceTimeoutError extends Error {
  override readonly name = "TokenSourceTimeoutError";
  readonly appId: string;
  readonly timeoutMs: number;
  /** The last stream error, if the stream failed; undefined when it stayed open but silent. */
  readonly lastError: Error | undefined;

  constructor(appId: string, timeoutMs: number, lastError: Error | undefined) {
    const why = lastError
      ? `last error: ${lastError.message}`
      : "the stream is open but the server has no token for this app yet (check the server's logs and its health for this app)";
    super(`no token for app ${appId} within ${timeoutMs} ms; ${why}`);
    this.appId = appId;
    this.timeoutMs = timeoutMs;
    this.lastError = lastError;
  }
}

/** The token a TokenSource holds has expired and no newer one has arrived: it is never handed out. */
export class TokenExpiredError extends Error {
  override readonly name = "TokenExpiredError";
  readonly appId: string;
  readonly version: number;
  readonly expiresAt: Date | undefined;

  constructor(appId: string, version: number, expiresAt: Date | undefined) {
    const when = expiresAt ? `expired at ${expiresAt.toISOString()}` : "has no expiry time, so it cannot be trusted";
    super(`token v${version} of app ${appId} ${when} and no newer token has arrived from the server`);
    this.appId = appId;
    this.version = version;
    this.expiresAt = expiresAt;
  }
}

/** The TokenSource was closed. */
export class TokenSourceClosedError extends Error {
  override readonly name = "TokenSourceClosedError";
  readonly appId: string;

  constructor(appId: string) {
    super(`the TokenSource of app ${appId} is closed`);
    this.appId = appId;
  }
}

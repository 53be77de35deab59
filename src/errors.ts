/**
 * The one base of every error the server answers with. Each names a stable
 * `reason` (google.rpc.ErrorInfo.reason: what clients branch on) and a
 * `category` (what kind of failure it is), so the transports map errors with a
 * plain table (src/grpc/status.ts for gRPC) and never look at messages.
 */

/** What kind of failure, independent of any transport. */
export type ErrorCategory =
  | "invalid" // the request is wrong: do not retry
  | "not_found" // no such app or credential here
  | "unavailable" // try again later (with backoff)
  | "exhausted" // a quota or size limit
  | "precondition" // an operator must act (credentials, IP whitelist)
  | "unauthenticated"
  | "denied";

export abstract class WxTokenError extends Error {
  /** A stable UPPER_SNAKE name of the cause. */
  abstract readonly reason: string;
  abstract readonly category: ErrorCategory;

  /** Facts about this failure for ErrorInfo.metadata: never a token or a secret. */
  metadata(): Record<string, string> {
    return {};
  }

  /** How long a client should wait before retrying (RetryInfo), where that makes sense. */
  retryDelayMs(_now: number): number | undefined {
    return undefined;
  }
}

/** A request the server will not act on (do not retry). */
export class InvalidArgumentError extends WxTokenError {
  override readonly name = "InvalidArgumentError";
  readonly category = "invalid";
  constructor(
    message: string,
    /** Which argument is wrong, e.g. INVALID_APP_ID. */
    readonly reason = "INVALID_ARGUMENT",
  ) {
    super(message);
  }
}

/** What the request needs is not there yet, and an operator (or an upstream event) must act: do not retry blindly. */
export class FailedPreconditionError extends WxTokenError {
  override readonly name = "FailedPreconditionError";
  readonly category = "precondition";
  constructor(
    message: string,
    readonly reason: string,
  ) {
    super(message);
  }
}

/** The server is draining: the client should reconnect (to another instance). */
export class ShuttingDownError extends WxTokenError {
  override readonly name = "ShuttingDownError";
  readonly reason = "SHUTTING_DOWN";
  readonly category = "unavailable";
  /** Long enough for the balancer to see NOT_SERVING, short enough to reconnect (elsewhere) at once. */
  override retryDelayMs(): number {
    return 1000;
  }
}

/** No or wrong credentials. */
export class UnauthenticatedError extends WxTokenError {
  override readonly name = "UnauthenticatedError";
  readonly reason = "UNAUTHENTICATED";
  readonly category = "unauthenticated";
}

/** Valid credentials, but not for this app or this operation. */
export class PermissionDeniedError extends WxTokenError {
  override readonly name = "PermissionDeniedError";
  readonly category = "denied";
  constructor(
    message: string,
    readonly reason = "PERMISSION_DENIED",
  ) {
    super(message);
  }
}

/** Request metadata (headers) over our limit. */
export class MetadataTooLargeError extends WxTokenError {
  override readonly name = "MetadataTooLargeError";
  readonly reason = "METADATA_TOO_LARGE";
  readonly category = "exhausted";
}

/** A config problem, with the key that is wrong. The CLI prints it and exits 78. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

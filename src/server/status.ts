/**
 * The one table from error values to gRPC status codes. Nothing else in the
 * server picks a status code for a failure.
 */
import { status, type ServiceError } from "@grpc/grpc-js";
import { Metadata } from "@grpc/grpc-js";
import { NoValidTokenError, SameTokenError, StoppedError, UnknownAppError, type RefreshError } from "../token/errors.js";
import { CoordinationError } from "../token/coordinator.js";
import { QuotaGuardError } from "../token/quota-guard.js";
import { nextQuotaDay } from "../token/schedule.js";
import { PermissionDeniedError, UnauthenticatedError } from "./hooks.js";
import { isUpstreamError, WeChatError, type UpstreamErrorKind } from "../upstream/errors.js";
import { encodeStatusDetails, STATUS_DETAILS_KEY } from "./error-details.js";

/** A request the server will not act on (do not retry). */
export class InvalidArgumentError extends Error {
  override readonly name = "InvalidArgumentError";
  constructor(
    message: string,
    /** The ErrorInfo reason: which argument is wrong. */
    readonly reason = "INVALID_ARGUMENT",
  ) {
    super(message);
  }
}

/** The server is draining: the client should reconnect (to another instance). */
export class ShuttingDownError extends Error {
  override readonly name = "ShuttingDownError";
}

/** Request metadata over our limit (grpc-js itself only enforces HTTP/2's header list limit). */
export class MetadataTooLargeError extends Error {
  override readonly name = "MetadataTooLargeError";
}

export const MAX_METADATA_BYTES = 16 * 1024;

/** SHUTTING_DOWN: long enough for the balancer to see NOT_SERVING, short enough to reconnect (elsewhere) at once. */
export const SHUTTING_DOWN_RETRY_MS = 1000;
/** WeChat's 45011 rate limit counts per minute (10,000 a minute on stable_token). */
export const RATE_LIMITED_RETRY_MS = 60_000;

export function checkMetadataSize(metadata: Metadata): void {
  let size = 0;
  for (const [key, values] of Object.entries(metadata.getMap())) {
    size += key.length + (Buffer.isBuffer(values) ? values.length : String(values).length);
  }
  if (size > MAX_METADATA_BYTES) throw new MetadataTooLargeError(`request metadata is ${size} bytes, over the limit of ${MAX_METADATA_BYTES}`);
}

const BY_UPSTREAM_KIND: Record<UpstreamErrorKind, status> = {
  transient: status.UNAVAILABLE,
  quota: status.RESOURCE_EXHAUSTED,
  admin: status.FAILED_PRECONDITION,
  permanent: status.FAILED_PRECONDITION,
};

export interface MappedStatus {
  code: status;
  details: string;
  /** google.rpc.ErrorInfo reason: a stable UPPER_SNAKE name of the cause (README: "Errors a machine can read"). */
  reason: string;
  /** google.rpc.ErrorInfo metadata: facts about this failure, never a token or a secret. */
  metadata?: Record<string, string>;
  /** google.rpc.RetryInfo retry_delay, where waiting and retrying makes sense. */
  retryDelayMs?: number;
  /** The upstream (or quota guard) error behind it, if any (for logs and error details). */
  upstream?: RefreshError;
}

/** `now` (the server's clock) turns the refresher's next attempt time into a retry delay. */
export function toStatus(err: unknown, now: number = Date.now()): MappedStatus {
  if (err instanceof UnauthenticatedError) return { code: status.UNAUTHENTICATED, details: err.message, reason: "UNAUTHENTICATED" };
  if (err instanceof PermissionDeniedError) return { code: status.PERMISSION_DENIED, details: err.message, reason: "PERMISSION_DENIED" };
  if (err instanceof MetadataTooLargeError) return { code: status.RESOURCE_EXHAUSTED, details: err.message, reason: "METADATA_TOO_LARGE" };
  if (err instanceof InvalidArgumentError) return { code: status.INVALID_ARGUMENT, details: err.message, reason: err.reason };
  if (err instanceof UnknownAppError) return { code: status.NOT_FOUND, details: err.message, reason: "UNKNOWN_APP", metadata: { app_id: err.appId } };
  // A reload removed the app while the call waited: as if it had never been configured.
  if (err instanceof StoppedError && err.reason === "removed") {
    return { code: status.NOT_FOUND, details: err.message, reason: "UNKNOWN_APP", metadata: { app_id: err.appId } };
  }
  if (err instanceof StoppedError || err instanceof ShuttingDownError) {
    return { code: status.UNAVAILABLE, details: err.message, reason: "SHUTTING_DOWN", retryDelayMs: SHUTTING_DOWN_RETRY_MS };
  }
  if (err instanceof SameTokenError) {
    return { code: status.UNAVAILABLE, details: err.message, reason: "SAME_TOKEN", metadata: { app_id: err.appId }, retryDelayMs: err.retryAfterMs };
  }
  if (err instanceof NoValidTokenError) {
    const cause = refreshCause(err.upstream);
    const retryDelayMs = err.retryAt === undefined ? undefined : Math.max(0, err.retryAt - now);
    return { code: BY_UPSTREAM_KIND[err.upstream.kind], details: err.message, ...cause, metadata: { app_id: err.appId, ...cause.metadata }, retryDelayMs, upstream: err.upstream };
  }
  if (err instanceof QuotaGuardError) return { code: status.RESOURCE_EXHAUSTED, details: err.message, ...refreshCause(err), retryDelayMs: err.retryAfterMs, upstream: err };
  // Only ForceRefresh's own refresh failed (a valid token is still served).
  if (isUpstreamError(err) || err instanceof CoordinationError) {
    return { code: BY_UPSTREAM_KIND[err.kind], details: `refresh failed: ${err.message}`, ...refreshCause(err), retryDelayMs: wechatQuotaRetry(err, now), upstream: err };
  }
  return { code: status.INTERNAL, details: "internal error", reason: "INTERNAL" };
}

/**
 * WeChat's own quota answers say when asking again can work: 45009 (daily
 * quota) not before the next quota day, 45011 (rate limit) after a minute.
 * Other refusals of a forced refresh carry no advice: the token still works.
 */
function wechatQuotaRetry(err: RefreshError, now: number): number | undefined {
  if (!(err instanceof WeChatError)) return undefined;
  if (err.errcode === 45009) return nextQuotaDay(now) - now;
  if (err.errcode === 45011) return RATE_LIMITED_RETRY_MS;
  return undefined;
}

/** Why a refresh did not happen, as an ErrorInfo reason and metadata. */
function refreshCause(err: RefreshError): { reason: string; metadata: Record<string, string> } {
  if (err instanceof QuotaGuardError) return { reason: "QUOTA_EXHAUSTED", metadata: { limit: err.reason } };
  if (err instanceof CoordinationError) return { reason: "SHARED_STORE_UNAVAILABLE", metadata: {} };
  if (err instanceof WeChatError) {
    const metadata: Record<string, string> = { errcode: String(err.errcode), endpoint: err.endpoint };
    if (err.rid) metadata.rid = err.rid;
    return { reason: "WECHAT_ERROR", metadata };
  }
  return { reason: "UPSTREAM_UNAVAILABLE", metadata: { transport: err.code, endpoint: err.endpoint } };
}

/** The status with its google.rpc.Status in the `grpc-status-details-bin` trailer. */
export function toServiceError(mapped: MappedStatus): Partial<ServiceError> {
  const metadata = new Metadata();
  metadata.set(STATUS_DETAILS_KEY, encodeStatusDetails(mapped));
  return { code: mapped.code, details: mapped.details, metadata };
}

const APP_ID = /^[A-Za-z0-9_.-]{1,128}$/;

export function validateAppId(appId: unknown): string {
  if (typeof appId !== "string" || appId.length === 0) throw new InvalidArgumentError("app_id is required", "INVALID_APP_ID");
  if (!APP_ID.test(appId)) {
    throw new InvalidArgumentError("app_id must be 1-128 characters of A-Z a-z 0-9 _ - . (a WeChat appid looks like wx1234567890abcdef)", "INVALID_APP_ID");
  }
  return appId;
}

const MAX_TOKEN_LENGTH = 4096;

export function validateStaleToken(token: unknown): string {
  if (typeof token !== "string" || token.length === 0) {
    throw new InvalidArgumentError("stale_token is required: pass the token WeChat rejected, so that the server refreshes only if it is still current", "INVALID_STALE_TOKEN");
  }
  if (token.length > MAX_TOKEN_LENGTH) throw new InvalidArgumentError(`stale_token is longer than ${MAX_TOKEN_LENGTH} characters`, "INVALID_STALE_TOKEN");
  return token;
}

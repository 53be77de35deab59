/**
 * The one table from error values to gRPC status codes. Every error the
 * server answers with is a WxTokenError with a category and a stable reason;
 * nothing else in the server picks a status code for a failure.
 */
import { Metadata, status, type ServiceError } from "@grpc/grpc-js";
import { InvalidArgumentError, MetadataTooLargeError, WxTokenError, type ErrorCategory } from "../errors.js";
import { CoordinationError } from "../core/coordinator.js";
import { isRefreshError, NoValidTokenError, type RefreshError } from "../core/errors.js";
import { isUpstreamError } from "../upstream/errors.js";
import { encodeStatusDetails, STATUS_DETAILS_KEY } from "@wxtoken/client";

export { InvalidArgumentError, MetadataTooLargeError, ShuttingDownError } from "../errors.js";

export const CODE_OF: Readonly<Record<ErrorCategory, status>> = {
  invalid: status.INVALID_ARGUMENT,
  not_found: status.NOT_FOUND,
  unavailable: status.UNAVAILABLE,
  exhausted: status.RESOURCE_EXHAUSTED,
  precondition: status.FAILED_PRECONDITION,
  unauthenticated: status.UNAUTHENTICATED,
  denied: status.PERMISSION_DENIED,
};

export const MAX_METADATA_BYTES = 16 * 1024;

export function checkMetadataSize(metadata: Metadata): void {
  let size = 0;
  for (const [key, values] of Object.entries(metadata.getMap())) {
    size += key.length + (Buffer.isBuffer(values) ? values.length : String(values).length);
  }
  if (size > MAX_METADATA_BYTES) throw new MetadataTooLargeError(`request metadata is ${size} bytes, over the limit of ${MAX_METADATA_BYTES}`);
}

export interface MappedStatus {
  code: status;
  details: string;
  /** google.rpc.ErrorInfo reason: a stable UPPER_SNAKE name of the cause. */
  reason: string;
  /** google.rpc.ErrorInfo metadata: facts about this failure, never a token or a secret. */
  metadata?: Record<string, string>;
  /** google.rpc.RetryInfo retry_delay, where waiting and retrying makes sense. */
  retryDelayMs?: number;
  /** The upstream (or quota guard) error behind it, if any (for logs). */
  upstream?: RefreshError;
}

/** `now` (the server's clock) turns the refresher's next attempt time into a retry delay. */
export function toStatus(err: unknown, now: number = Date.now()): MappedStatus {
  if (!(err instanceof WxTokenError)) return { code: status.INTERNAL, details: "internal error", reason: "INTERNAL" };
  const upstream = err instanceof NoValidTokenError ? err.upstream : isRefreshError(err) ? err : undefined;
  // Only ForceRefresh's own refresh failed: a valid token is still served.
  const details = isUpstreamError(err) || err instanceof CoordinationError ? `refresh failed: ${err.message}` : err.message;
  const metadata = err.metadata();
  return {
    code: CODE_OF[err.category],
    details,
    reason: err.reason,
    ...(Object.keys(metadata).length > 0 || !(err instanceof InvalidArgumentError) ? { metadata } : {}),
    retryDelayMs: err.retryDelayMs(now),
    upstream,
  };
}


/** The status with its google.rpc.Status in the `grpc-status-details-bin` trailer. */
export function toServiceError(mapped: MappedStatus): Partial<ServiceError> {
  const metadata = new Metadata();
  metadata.set(STATUS_DETAILS_KEY, encodeStatusDetails(mapped));
  return { code: mapped.code, details: mapped.details, metadata };
}

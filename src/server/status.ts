/**
 * The one table from error values to gRPC status codes. Nothing else in the
 * server picks a status code for a failure.
 */
import { status, type ServiceError } from "@grpc/grpc-js";
import { Metadata } from "@grpc/grpc-js";
import { NoValidTokenError, StoppedError, UnknownAppError, type RefreshError } from "../token/errors.js";
import { QuotaGuardError } from "../token/quota-guard.js";
import { PermissionDeniedError, UnauthenticatedError } from "./hooks.js";
import { isUpstreamError, type UpstreamErrorKind } from "../upstream/errors.js";

/** A request the server will not act on (do not retry). */
export class InvalidArgumentError extends Error {
  override readonly name = "InvalidArgumentError";
}

/** Request metadata over our limit (grpc-js itself only enforces HTTP/2's header list limit). */
export class MetadataTooLargeError extends Error {
  override readonly name = "MetadataTooLargeError";
}

export const MAX_METADATA_BYTES = 16 * 1024;

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
  /** The upstream (or quota guard) error behind it, if any (for logs and error details). */
  upstream?: RefreshError;
}

export function toStatus(err: unknown): MappedStatus {
  if (err instanceof UnauthenticatedError) return { code: status.UNAUTHENTICATED, details: err.message };
  if (err instanceof PermissionDeniedError) return { code: status.PERMISSION_DENIED, details: err.message };
  if (err instanceof MetadataTooLargeError) return { code: status.RESOURCE_EXHAUSTED, details: err.message };
  if (err instanceof InvalidArgumentError) return { code: status.INVALID_ARGUMENT, details: err.message };
  if (err instanceof UnknownAppError) return { code: status.NOT_FOUND, details: err.message };
  if (err instanceof StoppedError) return { code: status.UNAVAILABLE, details: err.message };
  if (err instanceof NoValidTokenError) return { code: BY_UPSTREAM_KIND[err.upstream.kind], details: err.message, upstream: err.upstream };
  if (err instanceof QuotaGuardError) return { code: status.RESOURCE_EXHAUSTED, details: err.message, upstream: err };
  if (isUpstreamError(err)) return { code: BY_UPSTREAM_KIND[err.kind], details: `refresh failed: ${err.message}`, upstream: err };
  return { code: status.INTERNAL, details: "internal error" };
}

export function toServiceError(mapped: MappedStatus): Partial<ServiceError> {
  return { code: mapped.code, details: mapped.details, metadata: new Metadata() };
}

const APP_ID = /^[A-Za-z0-9_.-]{1,128}$/;

export function validateAppId(appId: unknown): string {
  if (typeof appId !== "string" || appId.length === 0) throw new InvalidArgumentError("app_id is required");
  if (!APP_ID.test(appId)) {
    throw new InvalidArgumentError("app_id must be 1-128 characters of A-Z a-z 0-9 _ - . (a WeChat appid looks like wx1234567890abcdef)");
  }
  return appId;
}

const MAX_TOKEN_LENGTH = 4096;

export function validateStaleToken(token: unknown): string {
  if (typeof token !== "string" || token.length === 0) {
    throw new InvalidArgumentError("stale_token is required: pass the token WeChat rejected, so that the server refreshes only if it is still current");
  }
  if (token.length > MAX_TOKEN_LENGTH) throw new InvalidArgumentError(`stale_token is longer than ${MAX_TOKEN_LENGTH} characters`);
  return token;
}

/**
 * The machine-readable half of an error status: a google.rpc.Status in the
 * `grpc-status-details-bin` trailer, the error model every gRPC library reads
 * (grpc-go status.FromError, Python grpc_status, Java StatusProto, buf curl).
 * The server's src/grpc/status.ts decides what a failure means; this file
 * only encodes and decodes it.
 */
import type { Metadata } from "@grpc/grpc-js";
import { Any } from "../generated/google/protobuf/any.js";
import { ErrorInfo, RetryInfo } from "../generated/google/rpc/error_details.js";
import { Status } from "../generated/google/rpc/status.js";

export const STATUS_DETAILS_KEY = "grpc-status-details-bin";
/** ErrorInfo.domain: who defines the reasons. */
export const ERROR_DOMAIN = "wxtoken";
export const ERROR_INFO_TYPE_URL = "type.googleapis.com/google.rpc.ErrorInfo";
export const RETRY_INFO_TYPE_URL = "type.googleapis.com/google.rpc.RetryInfo";

/** What a failure's details say (src/grpc/status.ts's MappedStatus has these fields). */
export interface DetailsSource {
  code: number;
  details: string;
  reason: string;
  metadata?: Record<string, string>;
  retryDelayMs?: number;
}

/** Status{code, message, details: [ErrorInfo, RetryInfo?]}, serialized. */
export function encodeStatusDetails(s: DetailsSource): Buffer {
  const info = ErrorInfo.encode({ reason: s.reason, domain: ERROR_DOMAIN, metadata: s.metadata ?? {} }).finish();
  const details: Any[] = [{ typeUrl: ERROR_INFO_TYPE_URL, value: Buffer.from(info) }];
  if (s.retryDelayMs !== undefined) {
    const retry = RetryInfo.encode({ retryDelay: toDuration(s.retryDelayMs) }).finish();
    details.push({ typeUrl: RETRY_INFO_TYPE_URL, value: Buffer.from(retry) });
  }
  return Buffer.from(Status.encode({ code: s.code, message: s.details, details }).finish());
}

/** Whole milliseconds, rounded up: a client that waits this long is never early. */
function toDuration(ms: number): { seconds: number; nanos: number } {
  const whole = Math.max(0, Math.ceil(ms));
  return { seconds: Math.floor(whole / 1000), nanos: (whole % 1000) * 1_000_000 };
}

export interface StatusDetails {
  code: number;
  message: string;
  errorInfo?: ErrorInfo;
  retryDelayMs?: number;
  /** Type URLs of details this decoder does not know. */
  unknown: string[];
}

export function decodeStatusDetails(bin: Uint8Array): StatusDetails {
  const s = Status.decode(bin);
  const out: StatusDetails = { code: s.code, message: s.message, unknown: [] };
  for (const any of s.details) {
    if (any.typeUrl === ERROR_INFO_TYPE_URL) out.errorInfo = ErrorInfo.decode(any.value);
    else if (any.typeUrl === RETRY_INFO_TYPE_URL) {
      const d = RetryInfo.decode(any.value).retryDelay;
      out.retryDelayMs = d ? d.seconds * 1000 + Math.round(d.nanos / 1_000_000) : 0;
    } else out.unknown.push(any.typeUrl);
  }
  return out;
}

/** The details a failed call's trailers carry, if any (for clients and tests). */
export function statusDetailsOf(metadata: Metadata | undefined): StatusDetails | undefined {
  const bin = metadata?.get(STATUS_DETAILS_KEY)[0];
  return Buffer.isBuffer(bin) ? decodeStatusDetails(bin) : undefined;
}

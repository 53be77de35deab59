/**
 * The API layers' observation seam (metrics): told about every finished call,
 * over gRPC or the HTTP API.
 */
import type { status } from "@grpc/grpc-js";
import type { Principal } from "../core/access-policy.js";

/** Which API a call came through. */
export type Transport = "grpc" | "http";

export interface CallObserver {
  /** `method`: the TokenService method's name; `transport`: "http" from the HTTP API, absent (gRPC) otherwise. */
  onCallEnd(method: string, code: status, durationMs: number, principal: Principal | undefined, transport?: Transport): void;
}

export const observeNothing: CallObserver = { onCallEnd: () => undefined };

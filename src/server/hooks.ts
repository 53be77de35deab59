/**
 * The gRPC layer's observation seam (metrics): told about every finished call.
 */
import type { status } from "@grpc/grpc-js";
import type { Principal } from "../core/authorizer.js";

export interface CallObserver {
  onCallEnd(method: string, code: status, durationMs: number, principal: Principal | undefined): void;
}

export const observeNothing: CallObserver = { onCallEnd: () => undefined };

/**
 * Seams of the gRPC layer: who is calling (authentication, authorization)
 * and what happened (observation for metrics). TokenServiceImpl calls these;
 * the defaults allow everything and observe nothing.
 */
import type { Metadata, ServerUnaryCall, status } from "@grpc/grpc-js";

/** The transport's view of the caller (TLS peer certificate, if any). */
export type AuthContext = ReturnType<ServerUnaryCall<unknown, unknown>["getAuthContext"]>;

/** The caller as authentication established it. */
export interface Principal {
  /** A stable name for logs, metrics and rate limits, e.g. "order-service". */
  readonly name: string;
  readonly method: "anonymous" | "api-key" | "mtls";
}

export type Permission = "read" | "refresh";

/** What the server knows about a call before it runs it. */
export interface CallInfo {
  readonly metadata: Metadata;
  readonly authContext: AuthContext;
  readonly peer: string;
}

export interface Authorizer {
  /** Throws UnauthenticatedError when credentials are missing or wrong. */
  authenticate(call: CallInfo): Principal;
  /**
   * Throws PermissionDeniedError when the principal may not do this to this
   * app. Called before the app is looked up, so a denial never reveals whether
   * the app exists.
   */
  authorize(principal: Principal, appId: string, permission: Permission): void;
}

export interface CallObserver {
  onCallEnd(method: string, code: status, durationMs: number, principal: Principal | undefined): void;
}

export const ANONYMOUS: Principal = Object.freeze({ name: "anonymous", method: "anonymous" });

/** No authentication configured: everyone is "anonymous" and may do everything. */
export const allowAll: Authorizer = {
  authenticate: () => ANONYMOUS,
  authorize: () => undefined,
};

export const observeNothing: CallObserver = { onCallEnd: () => undefined };

/** No or wrong credentials. */
export class UnauthenticatedError extends Error {
  override readonly name = "UnauthenticatedError";
}

/** Valid credentials, but not for this app or this operation. */
export class PermissionDeniedError extends Error {
  override readonly name = "PermissionDeniedError";
}

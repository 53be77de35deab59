/**
 * Who is calling, and what they may do: the contract every transport (gRPC,
 * HTTP) calls before it acts. src/auth/ implements it from the config's
 * `auth` section; without one, everyone may do everything (allowAll).
 */
import type { PeerCertificate } from "node:tls";
import type { CredentialId } from "./credential-id.js";

/** The transport's view of the caller's TLS (a verified client certificate, if any). */
export interface AuthContext {
  transportSecurityType?: string;
  sslPeerCertificate?: PeerCertificate;
}

/** What a transport knows about a call before it runs it. */
export interface CallInfo {
  /** Request metadata / headers: get("authorization") gives every value sent. */
  readonly metadata: { get(key: string): (string | Buffer)[] };
  readonly authContext: AuthContext;
  readonly peer: string;
}

/** The caller as authentication established it. */
export interface Principal {
  /** A stable name for logs, metrics and rate limits, e.g. "order-service". */
  readonly name: string;
  readonly method: "anonymous" | "api-key" | "mtls";
}

/** read: GetToken, WatchToken; refresh: ForceRefresh; sign: SignJsSdk (a read grant also allows it). */
export type Permission = "read" | "refresh" | "sign";

export interface AccessPolicy {
  /** Throws UnauthenticatedError when credentials are missing or wrong. */
  authenticate(call: CallInfo): Principal;
  /**
   * Throws PermissionDeniedError when the principal may not do this to this
   * credential. Called before the credential is looked up, so a denial never
   * reveals whether it exists.
   */
  authorize(principal: Principal, id: CredentialId, permission: Permission): void;
}

export const ANONYMOUS: Principal = Object.freeze({ name: "anonymous", method: "anonymous" });

/** No authentication configured: everyone is "anonymous" and may do everything. */
export const allowAll: AccessPolicy = {
  authenticate: () => ANONYMOUS,
  authorize: () => undefined,
};

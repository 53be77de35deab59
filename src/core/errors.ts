import { WxTokenError, type ErrorCategory } from "../errors.js";
import { isUpstreamError, UpstreamTransportError, WeChatError, type UpstreamError } from "../upstream/errors.js";
import { CoordinationError } from "./coordinator.js";
import { describeId, type CredentialId } from "./credential-id.js";
import { QuotaGuardError } from "./quota-guard.js";

/**
 * Why a refresh did not happen: WeChat said no, could not be reached, our own
 * quota guard refused, or (replicas) the shared store could not be used.
 */
export type RefreshError = UpstreamError | QuotaGuardError | CoordinationError;

export function isRefreshError(err: unknown): err is RefreshError {
  return isUpstreamError(err) || err instanceof QuotaGuardError || err instanceof CoordinationError;
}

/**
 * Whether a failed call may still have cost WeChat quota, and issued a value:
 * an answer that was lost (a timeout) or mangled may have been one. A refused
 * connection, an HTTP error from a proxy, or an errcode answer issued nothing:
 * counting those would let an outage of a few hours use up our own daily
 * budget and keep the credential down after WeChat has recovered.
 */
export function mayHaveIssued(error: RefreshError): boolean {
  return error instanceof UpstreamTransportError && error.code !== "CONNECT" && error.code !== "HTTP_STATUS";
}

/** Whether a failure says the value held is dead too (ErrcodeInfo.revokesValue): it is not served any longer. */
export function revokesValue(error: RefreshError | undefined): boolean {
  return error instanceof WeChatError && error.revokesValue;
}

/** The errcode of WeChat's error answer, when the failure was one (what an operator looks up); undefined otherwise. */
export function wechatErrcode(error: RefreshError | undefined): number | undefined {
  return error instanceof WeChatError ? error.errcode : undefined;
}

function idMetadata(id: CredentialId): Record<string, string> {
  const m: Record<string, string> = { app_id: id.appId };
  if (id.agent !== undefined) m.agent = id.agent;
  if (id.platform !== undefined) m.platform_id = id.platform;
  if (id.kind !== "access_token") m.kind = id.kind;
  return m;
}

/** The app, agent or credential kind is not configured on this server. */
export class UnknownCredentialError extends WxTokenError {
  override readonly name = "UnknownCredentialError";
  readonly reason = "UNKNOWN_APP";
  readonly category = "not_found";
  constructor(
    readonly id: CredentialId,
    detail = "not configured on this server",
  ) {
    super(`unknown ${id.kind === "access_token" ? `app "${id.agent === undefined ? id.appId : `${id.appId}/${id.agent}`}"` : describeId(id)}: ${detail}`);
  }
  get appId(): string {
    return this.id.appId;
  }
  override metadata(): Record<string, string> {
    return idMetadata(this.id);
  }
}

/**
 * No valid value can be served: none was obtained yet or the last one expired,
 * and the refresh failed. Carries the failure that explains why, and takes
 * its category and reason from it.
 */
export class NoValidTokenError extends WxTokenError {
  override readonly name = "NoValidTokenError";
  constructor(
    readonly id: CredentialId,
    /** The failure behind it (named upstream for history: it may be our own QuotaGuardError). */
    readonly upstream: RefreshError,
    /** When the next upstream attempt is planned (ms since the epoch). */
    readonly retryAt: number | undefined,
    detail: string,
  ) {
    super(`no valid ${id.kind === "access_token" ? "token" : id.kind.replace("_", " ")} for ${describeId(id)} (${detail}): ${upstream.message}`);
  }
  get appId(): string {
    return this.id.appId;
  }
  get reason(): string {
    return this.upstream.reason;
  }
  get category(): ErrorCategory {
    return this.upstream.category;
  }
  override metadata(): Record<string, string> {
    return { ...idMetadata(this.id), ...this.upstream.metadata() };
  }
  override retryDelayMs(now: number): number | undefined {
    return this.retryAt === undefined ? undefined : Math.max(0, this.retryAt - now);
  }
}

/** The refresher was stopped: the server is shutting down, or a reload removed the credential. */
export class StoppedError extends WxTokenError {
  override readonly name = "StoppedError";
  constructor(
    readonly id: CredentialId,
    readonly why: "shutdown" | "removed" = "shutdown",
  ) {
    super(why === "removed" ? `${describeId(id)} was removed from the configuration` : `the refresher of ${describeId(id)} is shutting down`);
  }
  get appId(): string {
    return this.id.appId;
  }
  /** A removed credential looks as if it had never been configured. */
  get reason(): string {
    return this.why === "removed" ? "UNKNOWN_APP" : "SHUTTING_DOWN";
  }
  get category(): ErrorCategory {
    return this.why === "removed" ? "not_found" : "unavailable";
  }
  override metadata(): Record<string, string> {
    return this.why === "removed" ? idMetadata(this.id) : {};
  }
  override retryDelayMs(): number | undefined {
    return this.why === "removed" ? undefined : 1000;
  }
}

/**
 * A forced refresh brought back the value that was reported stale: stable_token
 * answers the current token to a force_refresh within 30 s of the last one, and
 * a ticket (or a WeCom token) stays the same while WeChat holds it valid.
 */
export class SameTokenError extends WxTokenError {
  override readonly name = "SameTokenError";
  readonly reason = "SAME_TOKEN";
  readonly category = "unavailable";
  readonly retryAfterMs = 30_000;
  constructor(readonly id: CredentialId) {
    super(
      id.kind === "access_token"
        ? `WeChat returned the same token for ${describeId(id)} to a forced refresh; try again in 30s`
        : `WeChat returned the same ${id.kind.replace("_", " ")} for ${describeId(id)}: it still holds it valid. An "invalid signature" is then most likely the URL: sign exactly location.href without its #fragment`,
    );
  }
  get appId(): string {
    return this.id.appId;
  }
  override metadata(): Record<string, string> {
    return idMetadata(this.id);
  }
  override retryDelayMs(): number {
    return this.retryAfterMs;
  }
}

import type { UpstreamError } from "../upstream/errors.js";
import type { CoordinationError } from "./coordinator.js";
import type { QuotaGuardError } from "./quota-guard.js";

/**
 * Why a refresh did not happen: WeChat said no, could not be reached, our own
 * quota guard refused, or (replicas) the shared store could not be used.
 */
export type RefreshError = UpstreamError | QuotaGuardError | CoordinationError;

/** The app id is not configured on this server. */
export class UnknownAppError extends Error {
  override readonly name = "UnknownAppError";
  constructor(readonly appId: string) {
    super(`unknown app "${appId}": not configured on this server`);
  }
}

/**
 * No valid token can be served: none was obtained yet or the last one expired,
 * and the upstream failed. Carries the upstream error that explains why.
 */
export class NoValidTokenError extends Error {
  override readonly name = "NoValidTokenError";
  constructor(
    readonly appId: string,
    /** The failure behind it (named upstream for history: it may be our own QuotaGuardError). */
    readonly upstream: RefreshError,
    /** When the next upstream attempt is planned (ms since the epoch). */
    readonly retryAt: number | undefined,
    detail: string,
  ) {
    super(`no valid token for app ${appId} (${detail}): ${upstream.message}`);
  }
}

/** The refresher was stopped: the server is shutting down, or a reload removed the app. */
export class StoppedError extends Error {
  override readonly name = "StoppedError";
  constructor(
    readonly appId: string,
    readonly reason: "shutdown" | "removed" = "shutdown",
  ) {
    super(reason === "removed" ? `app "${appId}" was removed from the configuration` : `token refresher for app ${appId} is shutting down`);
  }
}

/**
 * A forced refresh brought back the token that was reported stale (stable_token
 * answers the current token to a force_refresh within 30 s of the last one).
 */
export class SameTokenError extends Error {
  override readonly name = "SameTokenError";
  readonly retryAfterMs = 30_000;
  constructor(readonly appId: string) {
    super(`WeChat returned the same token for app ${appId} to a forced refresh; try again in 30s`);
  }
}

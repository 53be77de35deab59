import type { UpstreamError } from "../upstream/errors.js";
import type { QuotaGuardError } from "./quota-guard.js";

/** Why a refresh did not happen: WeChat said no, could not be reached, or our own quota guard refused. */
export type RefreshError = UpstreamError | QuotaGuardError;

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

/** The refresher was stopped (server shutting down). */
export class StoppedError extends Error {
  override readonly name = "StoppedError";
  constructor(appId: string) {
    super(`token refresher for app ${appId} is shutting down`);
  }
}

/**
 * A credential's run of failed refreshes: how many in a row, the last error,
 * and when the next attempt is due. The refresher asks it whether to call
 * upstream now, and what a caller who finds no valid value is told.
 */
import type { Clock } from "../clock.js";
import type { Logger } from "../log.js";
import { noun, type CredentialId, type CredentialRecord } from "./credential-id.js";
import { NoValidTokenError, revokesValue, type RefreshError } from "./errors.js";
import { QuotaGuardError } from "./quota-guard.js";
import { capBeforeExpiry, retryDelay, type Random, type RetryPolicy } from "./schedule.js";

interface Failure {
  error: RefreshError;
  attempts: number;
  retryAt: number;
  /** When the first attempt of this run failed (ms). */
  since: number;
  /** A report already skipped this run's backoff (see skipBackoffOnce): the backoff holds until an attempt succeeds. */
  skipped: boolean;
}

export class Failures {
  private failure: Failure | undefined;

  constructor(
    private readonly id: CredentialId,
    private readonly clock: Clock,
    private readonly policy: RetryPolicy,
    private readonly random: Random,
    /** The credential's log, made at first use. */
    private readonly log: () => Logger,
    /** Told when a run of failures starts, goes on or ends (the status index follows). */
    private readonly changed: () => void = () => undefined,
  ) {}

  /** The last upstream failure, if the last attempt failed. */
  last(): RefreshError | undefined {
    return this.failure?.error;
  }

  clear(): void {
    if (!this.failure) return;
    this.failure = undefined;
    this.changed();
  }

  /** The current run of failures, for status: since when, how many attempts, the next one. */
  run(): { since: number; attempts: number; retryAt: number } | undefined {
    const f = this.failure;
    return f && { since: f.since, attempts: f.attempts, retryAt: f.retryAt };
  }

  /**
   * Makes the next attempt due now, once per run of failures: true when it
   * did. After that the backoff holds until an attempt succeeds, so a flood
   * of reports cannot turn into one upstream call each.
   */
  skipBackoffOnce(): boolean {
    const f = this.failure;
    if (!f || f.skipped) return false;
    f.retryAt = Math.min(f.retryAt, this.clock.now());
    f.skipped = true;
    return true;
  }

  /** When the next attempt is due, while the last one failed. */
  nextAttemptAt(): number | undefined {
    return this.failure?.retryAt;
  }

  /**
   * Records a failed attempt and returns when to try again: backoff by the
   * error's kind, capped so that a retry comes before the valid value (if
   * any) expires; at once when the credentials changed while the call was out.
   */
  record(error: RefreshError, reason: string, valid: CredentialRecord | undefined, staleCredentials: boolean): number {
    const now = this.clock.now();
    const attempts = (this.failure?.attempts ?? 0) + 1;
    const errcode = "errcode" in error ? error.errcode : undefined;
    let delay =
      error instanceof QuotaGuardError
        ? error.retryAfterMs
        : retryDelay(error.kind, attempts, now, this.policy, this.random, errcode, error.kind === "quota" ? error.retryDelayMs(now) : undefined);
    delay = capBeforeExpiry(delay, now, valid?.expiresAt, this.policy.baseMs / 2);
    if (staleCredentials) delay = 0;
    this.failure = { error, attempts, retryAt: now + delay, since: this.failure?.since ?? now, skipped: this.failure?.skipped === true };
    this.changed();
    this.log().warn(
      { reason, errorKind: error.kind, errcode, rid: "rid" in error ? error.rid : undefined, attempts, retryInMs: delay, err: error.message },
      "refresh failed",
    );
    return now + delay;
  }

  /** Throws while the next attempt is not due: the error itself with a valid value (only refreshing failed), else NoValidTokenError. */
  throwIfBackingOff(valid: CredentialRecord | undefined, latest: CredentialRecord | undefined): void {
    const f = this.failure;
    if (!f || f.retryAt <= this.clock.now()) return;
    if (valid) throw f.error;
    throw new NoValidTokenError(this.id, f.error, f.retryAt, `${this.whyNone(latest)}; next attempt at ${new Date(f.retryAt).toISOString()}`);
  }

  /** What a caller with no valid value is told after `error`. */
  noValid(error: RefreshError, latest: CredentialRecord | undefined): NoValidTokenError {
    return new NoValidTokenError(this.id, error, this.failure?.retryAt, this.whyNone(latest));
  }

  private whyNone(latest: CredentialRecord | undefined): string {
    const what = noun(this.id);
    if (!latest) return `no ${what} obtained yet`;
    const at = new Date(latest.expiresAt).toISOString();
    return revokesValue(this.failure?.error) ? `${what} v${latest.version} withdrawn at ${at}: it no longer works` : `${what} v${latest.version} expired at ${at}`;
  }
}

/**
 * A ForceRefresh inside the minimum interval between forced refreshes
 * (quota.minForceRefreshIntervalSeconds). The interval is there so that a
 * caller reporting good tokens as stale cannot burn the token quota; but a
 * caller whose token WeChat really refused must not wait a minute for a new
 * one. So inside the interval WeChat is asked, at no token quota, whether it
 * still takes the reported value (the issuer's `check`: GET
 * /cgi-bin/getcallbackip with it):
 *
 *   refused (40001/40014/42001)  refresh at once, the interval notwithstanding
 *   taken                        the held value is good: answered, nothing fetched
 *   no answer, or no such call   wait for the interval's end (within the caller's deadline)
 *
 * Tickets and the component token have no such call: their callers wait.
 * Checks run one at a time per credential, and a value WeChat took is not
 * asked about again for ACCEPTED_MEMO_MS, so a flood of reports costs a few
 * checks a minute and no token call.
 */
import type { Clock } from "../clock.js";
import type { Logger } from "../log.js";
import type { AppQuota, QuotaGuardError } from "./quota-guard.js";

/** How long a value WeChat took counts as good without asking again. */
export const ACCEPTED_MEMO_MS = 5_000;

export type Verdict = "refused" | "taken" | "unknown";

/** What a ForceRefresh does next. */
export type ForceStep =
  /** Outside the interval ("force"), or WeChat refused the value ("stale"). */
  | { step: "refresh"; reason: "force" | "stale" }
  /** WeChat takes the value: answer it. */
  | { step: "serve" }
  /** Cannot tell: the interval ends in `ms`; past the caller's deadline, `refusal` is its answer. */
  | { step: "wait"; ms: number; refusal: QuotaGuardError };

export class StaleChecks {
  private running: { value: string; verdict: Promise<Verdict> } | undefined;
  private taken: { value: string; at: number } | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly log: () => Logger,
  ) {}

  /**
   * The next step of a ForceRefresh of `value`, the held value. `refused`:
   * the caller saw WeChat refuse it itself (our own call got 40001), so there
   * is nothing to ask.
   */
  async next(quota: AppQuota, value: string, fingerprint: string, check: ((value: string) => Promise<boolean>) | undefined, refused = false): Promise<ForceStep> {
    if (!quota.forceTooSoon()) return { step: "refresh", reason: "force" };
    if (refused) return { step: "refresh", reason: "stale" };
    const verdict = check ? await this.verdict(check, value, fingerprint) : "unknown";
    if (verdict === "refused") return { step: "refresh", reason: "stale" };
    if (verdict === "taken") return { step: "serve" };
    // Asked again after the check: the interval may be over by now.
    const refusal = quota.forceTooSoon();
    return refusal ? { step: "wait", ms: refusal.retryAfterMs, refusal } : { step: "refresh", reason: "force" };
  }

  /** One check at a time per value; a value taken is remembered for ACCEPTED_MEMO_MS. */
  private verdict(check: (value: string) => Promise<boolean>, value: string, fingerprint: string): Promise<Verdict> {
    if (this.taken?.value === value && this.clock.now() - this.taken.at < ACCEPTED_MEMO_MS) return Promise.resolve("taken");
    if (this.running?.value === value) return this.running.verdict;
    const verdict = check(value).then(
      (ok): Verdict => {
        if (ok) this.taken = { value, at: this.clock.now() };
        this.log().info({ stale: fingerprint, taken: ok }, ok ? "ForceRefresh inside the minimum interval: WeChat still takes the value, so it is answered" : "ForceRefresh inside the minimum interval: WeChat refuses the value, so it is refreshed at once");
        return ok ? "taken" : "refused";
      },
      (err: Error): Verdict => {
        this.log().warn({ stale: fingerprint, err: err.message }, "ForceRefresh inside the minimum interval: could not ask WeChat about the value; waiting for the interval's end");
        return "unknown";
      },
    );
    const running = {
      value,
      verdict: verdict.finally(() => {
        if (this.running === running) this.running = undefined;
      }),
    };
    this.running = running;
    return running.verdict;
  }
}

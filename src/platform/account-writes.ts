/**
 * Per-account order and the writes the platform store has not taken yet.
 *
 * Pushes about one account (authorized, unauthorized, a retried one) and the
 * writes they cause run one after another, so a de-authorization can never
 * overtake the authorization it follows on this replica (across replicas, the
 * store compares push times). A write the store refused for want of a disk or
 * a Redis (a refresh token WeChat just handed out, a rotated one) is kept and
 * tried again on a timer, with a doubling wait, until it lands or the account
 * leaves: a refresh token that is only in memory is one restart from lost.
 */
import type { Clock, TimerHandle } from "../clock.js";
import type { Logger } from "../log.js";

export interface AccountWritesOptions {
  clock: Clock;
  log: Logger;
  /** The log field naming the tenant ("authorizer", "corp"). */
  field?: string;
  /** The first wait before a failed write is tried again (default 1 s), doubling up to maxRetryMs. */
  firstRetryMs?: number;
  /** Default 60 s. */
  maxRetryMs?: number;
}

export class AccountWrites {
  private readonly chains = new Map<string, Promise<unknown>>();
  /** appid -> the write to try again (the newest one asked for). */
  private readonly pending = new Map<string, { what: string; write: () => Promise<void> }>();
  private timer: TimerHandle | undefined;
  private waitMs: number;
  private readonly firstMs: number;
  private readonly maxMs: number;
  private stopped = false;

  constructor(private readonly o: AccountWritesOptions) {
    this.firstMs = o.firstRetryMs ?? 1000;
    this.maxMs = o.maxRetryMs ?? 60_000;
    this.waitMs = this.firstMs;
  }

  /** Runs `fn` after everything queued for the account settled. */
  serial<T>(appId: string, fn: () => Promise<T>): Promise<T> {
    const run = (this.chains.get(appId) ?? Promise.resolve()).then(fn);
    const tail = run.catch(() => undefined);
    this.chains.set(appId, tail);
    void tail.then(() => {
      if (this.chains.get(appId) === tail) this.chains.delete(appId);
    });
    return run;
  }

  /** Keeps a write that failed, to be tried again (in the account's order) until it succeeds; replaces an earlier one. */
  retry(appId: string, what: string, write: () => Promise<void>): void {
    this.pending.set(appId, { what, write });
    this.schedule();
  }

  /** The account's pending write is no longer wanted (it landed another way, or the account left). */
  drop(appId: string): void {
    this.pending.delete(appId);
  }

  has(appId: string): boolean {
    return this.pending.has(appId);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) this.o.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Tries every pending write once now (at shutdown); resolves with the accounts whose write still failed. */
  async tryNow(): Promise<string[]> {
    if (this.timer) this.o.clock.clearTimeout(this.timer);
    this.timer = undefined;
    await this.runPending();
    return [...this.pending.keys()];
  }

  private schedule(): void {
    if (this.stopped || this.timer || this.pending.size === 0) return;
    this.timer = this.o.clock.setTimeout(() => {
      this.timer = undefined;
      void this.runPending();
    }, this.waitMs);
  }

  private async runPending(): Promise<void> {
    let failed = false;
    await Promise.all(
      [...this.pending].map(([appId, entry]) =>
        this.serial(appId, () => entry.write()).then(
          () => {
            // A newer write asked for meanwhile stays.
            if (this.pending.get(appId) === entry) this.pending.delete(appId);
          },
          (err: Error) => {
            failed = true;
            this.o.log.warn({ [this.o.field ?? "authorizer"]: appId, write: entry.what, err: err.message }, "platform store still refuses a write; trying again later");
          },
        ),
      ),
    );
    // Doubled before the next timer is set (a write that asks to run again joins that timer).
    this.waitMs = failed ? Math.min(this.waitMs * 2, this.maxMs) : this.firstMs;
    if (this.timer) this.o.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.schedule();
  }
}

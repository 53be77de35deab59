/**
 * AuthorizeByCode made idempotent: a business server that retries after a
 * timeout (or two that hand over the same redirect's code) gets the tenant
 * the first call authorized, not WeChat's "code already used". Calls with
 * the same code share one exchange while it runs; a success is remembered
 * for the code's own life (10 minutes), a failure is not. Codes are kept
 * only as digests, and at most MAX of them.
 */
import { createHash } from "node:crypto";
import type { Clock } from "../clock.js";
import type { Authorized } from "./pushed-platform.js";

/** How long WeChat lets an authorization code live, and so how long its answer is worth keeping. */
const CODE_LIFE_MS = 10 * 60_000;
const MAX = 1_000;

export class RedirectCodes {
  private readonly running = new Map<string, Promise<Authorized>>();
  private readonly done = new Map<string, { authorized: Authorized; until: number }>();

  constructor(private readonly clock: Clock) {}

  /** The exchange of `code` (`exchange` runs at most once at a time per code, and not again after it worked). */
  authorize(code: string, exchange: () => Promise<Authorized>): Promise<Authorized> {
    const key = createHash("sha256").update(code).digest("hex");
    const now = this.clock.now();
    const known = this.done.get(key);
    if (known && known.until > now) return Promise.resolve(known.authorized);
    let run = this.running.get(key);
    if (!run) {
      run = exchange()
        .then((authorized) => {
          this.done.delete(key);
          this.done.set(key, { authorized, until: this.clock.now() + CODE_LIFE_MS });
          for (const old of this.done.keys()) {
            if (this.done.size <= MAX) break;
            this.done.delete(old);
          }
          return authorized;
        })
        .finally(() => this.running.delete(key));
      this.running.set(key, run);
    }
    return run;
  }
}

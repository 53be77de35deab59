/**
 * AuthorizeByCode made idempotent: a business server that retries after a
 * timeout (or two that hand over the same redirect's code) gets the tenant
 * the first call authorized, not WeChat's "code already used". Calls with
 * the same code share one exchange while it runs; a success is remembered
 * for the code's own life (10 minutes), here and in the store, so the retry
 * may reach another replica sharing it, or this server after a restart. A
 * replica handed a code another one is still exchanging (the store's claim
 * says who started) waits for that outcome; a failed exchange is noted
 * briefly so that nobody waits for it. Codes are kept only as digests, and
 * at most MAX of them in memory.
 */
import { createHash } from "node:crypto";
import type { Clock } from "../clock.js";
import type { Logger } from "../log.js";
import type { Authorized } from "./pushed-platform.js";
import { OwnClaims } from "./own-claims.js";
import type { CodeOutcome, PlatformStore } from "./store.js";

/** How long WeChat lets an authorization code live, and so how long its answer is worth keeping. */
const CODE_LIFE_MS = 10 * 60_000;
const MAX = 1_000;
/** How long a replica waits for another's exchange of the same code: an upstream call and its retries, and a store write. */
const OTHERS_WAIT_MS = 10_000;
/** How long a claim says an exchange is under way: longer than one takes (a failed one says so at once). */
const CLAIM_MS = 2 * OTHERS_WAIT_MS;

export interface RedirectCodesDeps {
  /** The platform's id in the store. */
  platform: string;
  store: Pick<PlatformStore, "saveCodeOutcome" | "codeOutcome" | "claim">;
  clock: Clock;
  log: Logger;
  /** Reads the tenant another replica authorized from the store, so it is served here before the answer. */
  load(tenantId: string): Promise<void>;
  /** The platform stopped: a wait for another replica's outcome ends. */
  stopped(): boolean;
}

export class RedirectCodes {
  private readonly running = new Map<string, Promise<Authorized>>();
  private readonly done = new Map<string, { authorized: Authorized; until: number }>();
  /** Codes this process claimed in the store: a retry here after a failure does not wait for itself. */
  private readonly claims: OwnClaims;

  constructor(private readonly deps: RedirectCodesDeps) {
    this.claims = new OwnClaims(deps.store, deps.platform, deps.clock, CLAIM_MS);
  }

  /**
   * The exchange of `code` (`exchange` runs at most once at a time per code,
   * and not again after it worked). `ready` (the platform's own token) is
   * awaited only when the code is not known already: a code exchanged here,
   * by another replica or before a restart is answered without it.
   */
  authorize(code: string, exchange: () => Promise<Authorized>, ready: () => Promise<unknown> = async () => undefined): Promise<Authorized> {
    const key = createHash("sha256").update(code).digest("hex");
    const known = this.done.get(key);
    if (known && known.until > this.deps.clock.now()) return Promise.resolve(known.authorized);
    let run = this.running.get(key);
    if (!run) {
      run = this.exchangeOnce(key, exchange, ready)
        .then((authorized) => {
          this.remember(key, authorized);
          return authorized;
        })
        .finally(() => this.running.delete(key));
      this.running.set(key, run);
    }
    return run;
  }

  private async exchangeOnce(key: string, exchange: () => Promise<Authorized>, ready: () => Promise<unknown>): Promise<Authorized> {
    const kept = await this.kept(key);
    if (kept && !kept.failed) return answer(kept);
    await ready();
    // (An exchange that just failed is nobody's to wait for.)
    const others = kept ? undefined : await this.othersOutcome(key);
    if (others) return others;
    const { store, platform, clock, log } = this.deps;
    let authorized: Authorized;
    try {
      authorized = await exchange();
    } catch (err) {
      // Another replica may have exchanged it meanwhile: WeChat then calls it used.
      const kept = await this.kept(key);
      if (kept && !kept.failed) return answer(kept);
      // A replica waiting for this exchange tries the code itself now.
      const now = clock.now();
      await store.saveCodeOutcome(platform, key, { tenantId: "", authorizedAt: 0, until: now + CLAIM_MS, failed: true }, now).catch(() => undefined);
      throw err;
    }
    const now = clock.now();
    // Before the answer: a retry that reaches another replica after it finds the outcome.
    await store
      .saveCodeOutcome(platform, key, { ...authorized, until: now + CODE_LIFE_MS }, now)
      .catch((err: Error) => log.warn({ err: err.message }, "could not keep what a redirect's code was exchanged for; a retry on another replica would get WeChat's refusal"));
    return authorized;
  }

  /**
   * When another replica sharing the store started exchanging the code (a
   * business server that timed out and retried elsewhere while WeChat was
   * slow): its outcome, waited for on the clock for up to OTHERS_WAIT_MS, so
   * that this replica neither calls WeChat for a code already used nor
   * answers WeChat's refusal of it. Undefined when nobody else has it, or
   * when that exchange failed or brought nothing in time (its replica
   * died): then WeChat decides.
   */
  private async othersOutcome(key: string): Promise<Authorized | undefined> {
    if (await this.claims.take(`code:${key}`)) return undefined;
    const { clock, log } = this.deps;
    log.info("another replica is exchanging this authorization code; waiting for its outcome");
    const start = clock.now();
    for (let wait = 100; clock.now() - start < OTHERS_WAIT_MS && !this.deps.stopped(); wait *= 2) {
      await new Promise<void>((resolve) => clock.setTimeout(resolve, Math.min(wait, start + OTHERS_WAIT_MS - clock.now())));
      const kept = await this.kept(key);
      if (kept) return kept.failed ? undefined : answer(kept);
    }
    return undefined;
  }

  /** What the store kept for the code (another replica's exchange, this server's before a restart, or a failed exchange); a tenant is loaded here first. */
  private async kept(key: string): Promise<CodeOutcome | undefined> {
    const { store, platform, clock, log } = this.deps;
    const o = await store.codeOutcome(platform, key, clock.now()).catch((err: Error) => {
      log.warn({ err: err.message }, "could not read what a redirect's code was exchanged for");
      return undefined;
    });
    // Served here before the answer if the store can be read; the answer stands either way.
    if (o && !o.failed) await this.deps.load(o.tenantId).catch((err: Error) => log.warn({ err: err.message }, "could not load the tenant a redirect's code authorized"));
    return o;
  }

  private remember(key: string, authorized: Authorized): void {
    this.done.delete(key);
    this.done.set(key, { authorized, until: this.deps.clock.now() + CODE_LIFE_MS });
    for (const old of this.done.keys()) {
      if (this.done.size <= MAX) break;
      this.done.delete(old);
    }
  }
}

function answer(o: CodeOutcome): Authorized {
  return { tenantId: o.tenantId, authorizedAt: o.authorizedAt };
}

/**
 * Reconnect delays: exponential with jitter, reset by whoever owns it when
 * the connection proves healthy (go-spiffe resets on every message received).
 * One Backoff per watch, so one app's outage never slows another's reconnects.
 */

import type { Random } from "./clock.js";

export type { Random };

export interface BackoffOptions {
  /** First delay; default 1_000 ms. */
  initialMs?: number;
  /** Largest delay; default 30_000 ms. */
  maxMs?: number;
  /** Growth per attempt; default 2. */
  multiplier?: number;
  /** Each delay is spread by up to ±jitter of itself; default 0.2. Spreads reconnects after a server restart. */
  jitter?: number;
  /** Default Math.random. */
  random?: Random;
}

export class Backoff {
  readonly #initialMs: number;
  readonly #maxMs: number;
  readonly #multiplier: number;
  readonly #jitter: number;
  readonly #random: Random;
  #baseMs: number;

  constructor(options: BackoffOptions = {}) {
    this.#initialMs = options.initialMs ?? 1_000;
    this.#maxMs = options.maxMs ?? 30_000;
    this.#multiplier = options.multiplier ?? 2;
    this.#jitter = options.jitter ?? 0.2;
    this.#random = options.random ?? Math.random;
    if (!(this.#initialMs > 0) || !(this.#maxMs >= this.#initialMs)) {
      throw new RangeError(`backoff needs 0 < initialMs <= maxMs, got ${this.#initialMs} and ${this.#maxMs}`);
    }
    if (!(this.#multiplier >= 1)) throw new RangeError(`backoff multiplier must be >= 1, got ${this.#multiplier}`);
    if (!(this.#jitter >= 0 && this.#jitter <= 1)) throw new RangeError(`backoff jitter must be in [0, 1], got ${this.#jitter}`);
    this.#baseMs = this.#initialMs;
  }

  /** The delay before the next attempt; each call makes the following one longer, up to maxMs. */
  next(): number {
    const base = this.#baseMs;
    this.#baseMs = Math.min(this.#maxMs, base * this.#multiplier);
    const spread = base * this.#jitter * (2 * this.#random() - 1);
    return Math.round(Math.min(this.#maxMs, Math.max(0, base + spread)));
  }

  /** Back to initialMs: call it when the connection delivered something. */
  reset(): void {
    this.#baseMs = this.#initialMs;
  }
}

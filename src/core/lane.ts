/**
 * How a group of credentials reaches WeChat in the background. The config's
 * apps run in the free lane (each refresh when its plan says). An Open
 * Platform's authorizers share a paced lane: an upstream rate ceiling
 * (src/core/pacer.ts) and a bound on calls in flight, so that 100,000 tokens
 * obtained together never come due together, and a restore or an outage's
 * backlog drains at the ceiling. A lane may also hold its credentials on
 * demand: fetched at the first read, refreshed while read, idle otherwise.
 *
 * Calls a caller waits for (a GetToken with no valid value, a ForceRefresh)
 * never queue here.
 */
import type { Clock } from "../clock.js";
import { Pacer } from "./pacer.js";

export interface LaneOptions {
  /** Upstream calls per second the lane's background work may make, across the replicas. */
  maxCallsPerSecond?: number;
  /** Background calls in flight at once. */
  maxConcurrent?: number;
  /** Held on demand: refreshed only while read within this long (ms). Undefined: eager. */
  idleAfterMs?: number;
}

export class Lane {
  private pacer: Pacer | undefined;
  private inFlight = 0;
  private readonly waiting: (() => void)[] = [];
  private replicas = 1;
  /** The earliest time the next background call may start. */
  private nextStart = -Infinity;

  constructor(
    readonly name: string,
    private readonly opts: LaneOptions,
    private readonly clock: Clock,
  ) {
    this.pacer = this.makePacer();
  }

  get paced(): boolean {
    return this.pacer !== undefined;
  }

  get idleAfterMs(): number | undefined {
    return this.opts.idleAfterMs;
  }

  /** The ceiling this replica keeps: the lane's, shared evenly by the live replicas. */
  setReplicas(n: number): void {
    const next = Math.max(1, n);
    if (next === this.replicas) return;
    this.replicas = next;
    this.pacer = this.makePacer();
  }

  /** A slot for a refresh planned at `preferred`, no earlier than `lo`, no later than `latest`. */
  planned(preferred: number, lo: number, latest: number): number {
    return this.pacer ? this.pacer.before(preferred, lo, latest) : preferred;
  }

  /** A slot for a call wanted at `at` or as soon after as the ceiling allows (a first fetch, a retry). */
  soonest(at: number): number {
    return this.pacer ? this.pacer.after(at) : at;
  }

  release(slot: number): void {
    this.pacer?.release(slot);
  }

  /**
   * Runs a background call within the lane's bound on calls in flight, and
   * no sooner after the previous call's start than the ceiling allows: calls
   * held back by the bound (a slow WeChat, a busy event loop) then start at
   * the ceiling's pace, not in a burst, when the bound lets them go.
   */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    const max = this.opts.maxConcurrent;
    if (max !== undefined) while (this.inFlight >= max) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.inFlight++;
    try {
      const ceiling = this.opts.maxCallsPerSecond;
      if (ceiling !== undefined) {
        const now = this.clock.now();
        const startAt = Math.max(now, this.nextStart);
        this.nextStart = startAt + (1000 * this.replicas) / ceiling;
        if (startAt > now) await new Promise<void>((resolve) => this.clock.setTimeout(resolve, startAt - now));
      }
      return await fn();
    } finally {
      this.inFlight--;
      this.waiting.shift()?.();
    }
  }

  private makePacer(): Pacer | undefined {
    const ceiling = this.opts.maxCallsPerSecond;
    return ceiling === undefined ? undefined : new Pacer(ceiling / this.replicas, () => this.clock.now());
  }
}

/** The config's apps: no ceiling, eager. */
export function freeLane(clock: Clock): Lane {
  return new Lane("config", {}, clock);
}

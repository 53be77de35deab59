/**
 * Refusals of requests from outside, in the log without letting the outside
 * decide how much is written: 3,000 forged pushes in 1.5 s were 564 KB of
 * warn lines. The first refusal of each reason is logged at once, in full
 * (an operator sees what happened as it happens); while more keep coming,
 * one line per interval (10 s by default) counts them by reason. After an
 * interval with none, the next one is logged at once again.
 */
import type { Clock, TimerHandle } from "../clock.js";
import type { Logger } from "../log.js";

export interface RefusalLogOptions {
  log: Logger;
  clock: Clock;
  /** The message of the summary line, e.g. "push refusals". */
  what: string;
  /** Fields every summary line carries (the listener). */
  fields?: Record<string, unknown>;
  /** How often, at most, a summary line is written (default 10 s). */
  everyMs?: number;
}

/** Remote addresses a summary names, at most: enough to find a source, bounded whatever the flood. */
const MAX_REMOTES = 5;

export class RefusalLog {
  private window: TimerHandle | undefined;
  /** Reasons already logged in full since the log was last quiet. */
  private readonly shown = new Set<string>();
  private counts = new Map<string, number>();
  private remotes = new Set<string>();
  private level: "info" | "warn" = "info";
  /** When the counts began (clock ms). */
  private since = 0;

  constructor(private readonly o: RefusalLogOptions) {}

  /**
   * One refusal: logged with `fields` and `msg` if it is the first of its
   * reason since the log was quiet, else counted for the next summary.
   * `reason` must come from a bounded set (result names), never from the request.
   */
  note(reason: string, fields: Record<string, unknown>, msg: string, level: "info" | "warn" = "warn", remote?: string): void {
    if (!this.shown.has(reason)) {
      this.shown.add(reason);
      this.o.log[level](fields, msg);
      if (this.window === undefined) this.open();
      return;
    }
    this.counts.set(reason, (this.counts.get(reason) ?? 0) + 1);
    if (level === "warn") this.level = "warn";
    if (remote !== undefined && this.remotes.size < MAX_REMOTES) this.remotes.add(remote);
  }

  /** Writes what is counted now (at shutdown: nothing counted is lost). */
  flush(): void {
    if (this.window !== undefined) this.o.clock.clearTimeout(this.window);
    this.window = undefined;
    this.summarize();
    this.shown.clear();
  }

  private get everyMs(): number {
    return this.o.everyMs ?? 10_000;
  }

  private close(): void {
    this.window = undefined;
    // A quiet interval: the next refusal of any reason is news again.
    if (!this.summarize()) {
      this.shown.clear();
      return;
    }
    this.open();
  }

  private open(): void {
    this.since = this.o.clock.now();
    this.window = this.o.clock.setTimeout(() => this.close(), this.everyMs);
  }

  /** Logs and resets the counts; false when there were none. */
  private summarize(): boolean {
    let refused = 0;
    for (const n of this.counts.values()) refused += n;
    if (refused === 0) return false;
    const reasons = Object.fromEntries([...this.counts].sort((a, b) => b[1] - a[1]));
    // An interval, or less at a flush.
    const seconds = Math.round((this.o.clock.now() - this.since) / 100) / 10;
    this.o.log[this.level](
      { ...this.o.fields, refused, reasons, ...(this.remotes.size > 0 ? { remotes: [...this.remotes] } : {}), seconds },
      `${this.o.what}: ${refused} more in the last ${seconds} s (${Object.entries(reasons)
        .map(([r, n]) => `${r} ${n}`)
        .join(", ")})`,
    );
    this.counts = new Map();
    this.remotes = new Set();
    this.level = "info";
    return true;
  }
}

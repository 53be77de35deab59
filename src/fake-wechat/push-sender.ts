/**
 * Sending a sealed push as WeChat and WeCom do (POST, text/xml, the signed
 * query) and hearing the receiver's answer; and a periodic push on the
 * injected clock whose failures are counted, for a fake platform to use.
 */
import { performance } from "node:perf_hooks";
import { request } from "undici";
import type { Clock, TimerHandle } from "../clock.js";
import type { SealedPush } from "../platform/push.js";

/** How the fake waits for a receiver's answer (real time). */
const PUSH_TIMEOUT_MS = 5_000;

export interface SentPush {
  /** The HTTP status and body the receiver answered (200 "success" expected). */
  status: number;
  body: string;
  /** The decrypted message's fields as sent. */
  fields: Record<string, string | number>;
  /** How long the receiver took to answer, in real milliseconds. */
  elapsedMs: number;
  /** Sends the very same request again (same query, same body), as WeChat does when a push was not answered `success`. */
  resend(): Promise<SentPush>;
}

export function postPush(pushUrl: string, sealed: SealedPush, fields: Record<string, string | number>): Promise<SentPush> {
  const url = new URL(pushUrl);
  for (const [k, v] of sealed.query) url.searchParams.set(k, v);
  const once = async (): Promise<SentPush> => {
    const started = performance.now();
    const res = await request(url, { method: "POST", headers: { "content-type": "text/xml" }, body: sealed.body, headersTimeout: PUSH_TIMEOUT_MS, bodyTimeout: PUSH_TIMEOUT_MS });
    const body = await res.body.text();
    return { status: res.statusCode, body, fields, elapsedMs: performance.now() - started, resend: once };
  };
  return once();
}

/** Pushes every intervalMs on the clock (when there is somewhere to push), counting the pushes not answered 200 "success". */
export class PushTimer {
  private timer: TimerHandle | undefined;
  private failed = 0;
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(
    private readonly clock: Clock,
    private readonly intervalMs: number,
    private readonly push: () => Promise<SentPush> | undefined,
  ) {
    if (!(intervalMs > 0)) throw new RangeError("pushIntervalMs must be positive");
  }

  /** Background pushes (the timer's, and any given to background()) that failed. */
  get failures(): number {
    return this.failed;
  }

  start(): void {
    if (this.timer !== undefined) return;
    const tick = () => {
      this.timer = this.clock.setTimeout(tick, this.intervalMs);
      this.background(this.push);
    };
    this.timer = this.clock.setTimeout(tick, this.intervalMs);
  }

  /** Stops the timer and waits for the pushes in flight. */
  async stop(): Promise<void> {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    await Promise.allSettled([...this.inFlight]);
  }

  background(push: () => Promise<SentPush> | undefined): void {
    const sent = push();
    if (!sent) return;
    const p = sent.then(
      (r) => {
        if (r.status !== 200 || r.body !== "success") this.failed++;
      },
      () => {
        this.failed++;
      },
    );
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }
}

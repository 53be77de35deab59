/**
 * Sending a sealed push as WeChat and WeCom do (POST, text/xml, the signed
 * query) and hearing the receiver's answer; WeCom's check of a callback URL
 * (GET with an encrypted echostr) and whether it was answered right; and a
 * periodic push on the injected clock whose failures are counted, for a fake
 * platform to use.
 */
import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import { request } from "undici";
import type { Clock, TimerHandle } from "../clock.js";
import { computeSignature, encrypt } from "../platform/crypto.js";
import type { PushKeys, SealedPush } from "../platform/push.js";

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

export interface UrlCheck {
  /** The receiver answered 200 with the decrypted echostr, exactly: WeCom's console would save the URL. */
  ok: boolean;
  /** The receiver's HTTP status; absent when it did not answer. */
  status?: number;
  /** Why the check failed (never the echostr, the Token or the EncodingAESKey). */
  reason?: string;
  elapsedMs: number;
}

/**
 * WeCom's check of a callback URL as its console makes it when the URL is
 * saved (验证URL): GET url?msg_signature=&timestamp=&nonce=&echostr=, the
 * echostr a random number encrypted for keys.receiverId and signed like a
 * push's Encrypt; the answer must be the number, alone. A receiver that does
 * not answer is a failed check, not an error.
 */
export async function checkUrl(pushUrl: string, keys: PushKeys, timestampSeconds: number): Promise<UrlCheck> {
  // WeCom's echostr decrypts to a long random number.
  const plain = randomBytes(8).readBigUInt64BE(0).toString();
  const echostr = encrypt(keys.encodingAesKey, plain, keys.receiverId);
  const timestamp = String(timestampSeconds);
  const nonce = String(randomBytes(4).readUInt32BE(0));
  const url = new URL(pushUrl);
  for (const [k, v] of Object.entries({ msg_signature: computeSignature(keys.token, timestamp, nonce, echostr), timestamp, nonce, echostr })) url.searchParams.set(k, v);
  // The answer is the caller's to read (a control route's JSON): none of these may reach it through a receiver's body or an error.
  const withheld = (text: string) => [plain, echostr, encodeURIComponent(echostr), keys.token, keys.encodingAesKey].reduce((t, secret) => t.split(secret).join("[withheld]"), text);
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  let status: number;
  let body: string;
  try {
    const res = await request(url, { method: "GET", headersTimeout: PUSH_TIMEOUT_MS, bodyTimeout: PUSH_TIMEOUT_MS });
    status = res.statusCode;
    body = await res.body.text();
  } catch (err) {
    return { ok: false, reason: withheld(`no answer: ${(err as Error).message}`), elapsedMs: elapsed() };
  }
  const elapsedMs = elapsed();
  if (status !== 200) return { ok: false, status, reason: withheld(`the receiver answered HTTP ${status}: ${body.slice(0, 200)}`), elapsedMs };
  if (body === plain) return { ok: true, status, elapsedMs };
  // WeCom takes the plaintext alone (no quotes, BOM or newline): say which near miss it was.
  if (body === echostr) return { ok: false, status, reason: "the answer was the echostr still encrypted: the receiver must decrypt it with the EncodingAESKey", elapsedMs };
  if (body.replace(/^\uFEFF/, "").trim().replace(/^"(.*)"$/, "$1") === plain) return { ok: false, status, reason: "the answer was the echostr with more around it (quotes, a BOM, spaces or a newline): WeCom takes it alone", elapsedMs };
  return { ok: false, status, reason: "the answer was not the echostr", elapsedMs };
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

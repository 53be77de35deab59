/**
 * The push receiver of the pushed-ticket platforms: the Open Platform's
 * authorization event URL (授权事件接收URL) and a WeCom suite's command URL
 * (指令回调URL); an HTTP listener of its own that serves nothing else. It faces the internet
 * (WeChat must reach it), so every request gets exactly one defined answer, a
 * log line without secrets, and nothing is stored unless it is a fresh push
 * with a valid signature for this platform:
 *
 *   404 not_found            a path that is no platform's
 *   405 method_not_allowed   anything but POST (Allow: POST), or a GET on a path with no URL check
 *   200 verified             WeCom's URL check (GET with msg_signature, timestamp, nonce, echostr): the echostr decrypted
 *   413 too_large            a body over maxBodyBytes
 *   400 malformed            query fields missing, encrypt_type not aes, XML malformed, no Encrypt or InfoType
 *   403 stale_timestamp      timestamp not an integer, or further than maxClockSkewMs from our clock
 *   403 bad_signature        msg_signature does not match
 *   400 bad_ciphertext       bad base64, block size, padding or length
 *   403 wrong_receiver       the message is for another receiver (component appid, or a WeCom suite id)
 *   403 future_create_time   the message's CreateTime (a suite's: TimeStamp) is further than maxClockSkewMs ahead of our clock
 *   200 duplicate            a push already handled (same msg_signature) within the skew window: not handled again
 *   200 ignored / stored     handled ("success", what WeChat expects)
 *   503 store_failed         what it carries could not be stored: WeChat retries
 *   --- aborted              the sender closed the connection mid-body: no answer, logged at debug
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Clock } from "../clock.js";
import { listen } from "../listeners/listen.js";
import type { Logger } from "../log.js";
import { bodyChunks, ClientAbortError } from "../listeners/client-abort.js";
import { httpServerOptions, limitHttpServer, type HttpLimits } from "../listeners/http-limits.js";
import { RefusalLog } from "../listeners/refusal-log.js";
import { assertSignature, decrypt, PushCryptoError, WrongReceiverError } from "./crypto.js";
import { openPush, pushQueryOf, type PushKeys } from "./push.js";
import { PushXmlError } from "./xml.js";

/** What handling a verified push came to: its content stored, or nothing to store (both are answered `success`). */
export type PushOutcome = "stored" | "ignored";

export type PushResultName =
  | "not_found"
  | "method_not_allowed"
  | "too_large"
  | "malformed"
  | "stale_timestamp"
  | "bad_signature"
  | "bad_ciphertext"
  | "wrong_receiver"
  | "future_create_time"
  | "duplicate"
  | "verified"
  | "ignored"
  | "stored"
  | "store_failed"
  | "aborted";

export interface PushTarget {
  /** The exact path WeChat posts to. */
  path: string;
  keys: PushKeys;
  /** A verified, decrypted message. Rejects when it could not be stored (WeChat then retries). */
  handle(fields: Record<string, string>): Promise<PushOutcome>;
  /**
   * WeCom checks a command URL before its console saves it: a GET whose
   * encrypted echostr must come back decrypted. The receiver ids its echostr
   * may be encrypted for (the suite id, the provider's corpid); absent: no
   * URL check on this path (GET is refused).
   */
  urlCheckIds?: readonly string[];
}

export interface PushReceiverOptions {
  /** host:port, [v6]:port or :port; port 0 takes a free one. */
  listen: string;
  targets: readonly PushTarget[];
  maxBodyBytes: number;
  maxClockSkewMs: number;
  clock: Clock;
  log: Logger;
  /** Connection cap and timeouts (connections.receiver); without them, the default timeouts and no cap. */
  connections?: HttpLimits;
  /** Told of every request's result (metrics). */
  observe?(component: string | undefined, infoType: string | undefined, result: PushResultName): void;
}

/** Handled signatures remembered for replay detection, at most. */
const MAX_SEEN = 10_000;

const ANSWERS: Record<PushResultName, [number, string]> = {
  not_found: [404, "not found"],
  method_not_allowed: [405, "method not allowed"],
  too_large: [413, "body too large"],
  malformed: [400, "malformed push"],
  stale_timestamp: [403, "stale timestamp"],
  bad_signature: [403, "bad signature"],
  bad_ciphertext: [400, "bad ciphertext"],
  wrong_receiver: [403, "wrong receiver"],
  future_create_time: [403, "create time ahead"],
  duplicate: [200, "success"],
  // The body is the decrypted echostr, written by verifyUrl.
  verified: [200, ""],
  ignored: [200, "success"],
  stored: [200, "success"],
  store_failed: [503, "try again"],
  // Never sent: the sender is gone.
  aborted: [400, "aborted"],
};

class Refusal extends Error {
  constructor(
    readonly result: PushResultName,
    readonly why: string,
  ) {
    super(why);
  }
}

export class PushReceiver {
  private readonly server: Server;
  private readonly byPath: Map<string, PushTarget>;
  /** msg_signature -> when it was handled (clock ms), oldest first. */
  private readonly seen = new Map<string, number>();
  private port: number | undefined;
  /** Refused and repeated pushes: anyone can send them, so their log lines are summarized. */
  private readonly refusals: RefusalLog;

  constructor(private readonly o: PushReceiverOptions) {
    this.refusals = new RefusalLog({ log: o.log, clock: o.clock, what: "pushes not handled", fields: { listener: "receiver" } });
    this.byPath = new Map(o.targets.map((t) => [t.path, t]));
    this.server = createServer({ maxHeaderSize: 16 * 1024, ...httpServerOptions(o.connections) }, (req, res) => {
      this.handle(req, res).catch((err: Error) => {
        this.o.log.error({ err: err.message }, "push receiver: internal error");
        if (!res.headersSent) this.answer(res, "store_failed");
      });
    });
    // Slow or silent clients do not hold sockets open.
    limitHttpServer(this.server, o.connections, 10_000);
  }

  async listen(): Promise<number> {
    this.port = await listen(this.server, this.o.listen, "openPlatform.receiver.listen");
    this.o.log.info({ address: this.o.listen, port: this.port, paths: [...this.byPath.keys()] }, "push receiver listening");
    return this.port;
  }

  get boundPort(): number | undefined {
    return this.port;
  }

  async close(): Promise<void> {
    if (!this.server.listening) return;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    await closed;
    this.refusals.flush();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://receiver.invalid");
    const target = this.byPath.get(url.pathname);
    const component = target?.keys.receiverId;
    const remote = req.socket.remoteAddress;
    let infoType: string | undefined;
    const finish = (result: PushResultName, why?: string) => {
      this.o.observe?.(component, infoType, result);
      const refused = ANSWERS[result][0] !== 200;
      // InfoType is the sender's text: bounded in the log (metrics say "other" for one wxtoken does not know).
      const fields = { component, infoType: infoType?.slice(0, 64), result, remote, ...(why ? { why } : {}) };
      // A refusal, or a replay of one push (duplicate), can be sent any number of times: the first of each is logged, the rest counted.
      if (refused) this.refusals.note(result, fields, "push refused", "warn", remote);
      else if (result === "duplicate") this.refusals.note(result, fields, "push handled", "info", remote);
      else this.o.log.info(fields, "push handled");
      // A refused request's body may still be coming: do not keep the connection.
      this.answer(res, result, refused && !req.complete);
    };
    try {
      if (!target) throw new Refusal("not_found", "no platform on this path");
      if (req.method === "GET" && target.urlCheckIds) return this.verifyUrl(url.searchParams, target, target.urlCheckIds, res, finish);
      if (req.method !== "POST") throw new Refusal("method_not_allowed", `${req.method ?? "?"} instead of POST`);
      const body = await this.readBody(req);
      const query = pushQueryOf(url.searchParams);
      if (!query.timestamp || !query.nonce || !query.msgSignature) throw new Refusal("malformed", "query lacks timestamp, nonce or msg_signature");
      if (query.encryptType !== undefined && query.encryptType !== "aes") throw new Refusal("malformed", "encrypt_type is not aes");
      this.checkTimestamp(query.timestamp);
      let fields: Record<string, string>;
      try {
        fields = openPush(target.keys, query, body);
      } catch (err) {
        throw refusalOf(err);
      }
      infoType = fields["InfoType"];
      if (!infoType) throw new Refusal("malformed", "message has no InfoType");
      // An Open Platform's push says when it was created in CreateTime, a WeCom suite's in TimeStamp.
      this.checkCreateTime(fields["CreateTime"], "CreateTime");
      this.checkCreateTime(fields["TimeStamp"], "TimeStamp");
      this.forgetOld();
      if (this.seen.has(query.msgSignature)) return finish("duplicate");
      let outcome: PushOutcome;
      try {
        outcome = await target.handle(fields);
      } catch (err) {
        return finish("store_failed", (err as Error).message);
      }
      this.remember(query.msgSignature);
      return finish(outcome);
    } catch (err) {
      if (err instanceof ClientAbortError) {
        // The sender's doing, not a fault: nobody is left to answer.
        this.o.observe?.(component, infoType, "aborted");
        this.o.log.debug({ component, remote }, "push aborted by the sender mid-body");
        return;
      }
      if (err instanceof Refusal) return finish(err.result, err.why);
      throw err;
    }
  }

  /**
   * WeCom's URL check: the signature covers echostr, which is encrypted like
   * a message for one of the receiver ids; the plaintext is the answer. Nothing
   * is stored, and the plaintext (a random string WeCom chose) is not logged.
   */
  private verifyUrl(params: URLSearchParams, target: PushTarget, ids: readonly string[], res: ServerResponse, finish: (result: PushResultName, why?: string) => void): void {
    const query = pushQueryOf(params);
    const echostr = params.get("echostr");
    if (!query.timestamp || !query.nonce || !query.msgSignature || !echostr) throw new Refusal("malformed", "URL check lacks timestamp, nonce, msg_signature or echostr");
    if (echostr.length > 4096) throw new Refusal("too_large", "echostr over 4096 characters");
    this.checkTimestamp(query.timestamp);
    let plain: string | undefined;
    try {
      assertSignature(target.keys.token, query.timestamp, query.nonce, echostr, query.msgSignature);
      for (const id of ids) {
        try {
          plain = decrypt(target.keys.encodingAesKey, echostr, id);
          break;
        } catch (err) {
          if (!(err instanceof WrongReceiverError)) throw err;
        }
      }
    } catch (err) {
      throw refusalOf(err);
    }
    if (plain === undefined) throw new Refusal("wrong_receiver", "echostr is for another receiver");
    res.writeHead(200, { "content-type": "text/plain; charset=utf-8", "content-length": Buffer.byteLength(plain), "cache-control": "no-store" });
    res.end(plain);
    finish("verified");
  }

  private checkTimestamp(timestamp: string): void {
    if (!/^\d{1,12}$/.test(timestamp)) throw new Refusal("stale_timestamp", "timestamp is not an integer");
    const skew = Math.abs(Number(timestamp) * 1000 - this.o.clock.now());
    if (skew > this.o.maxClockSkewMs) throw new Refusal("stale_timestamp", `timestamp is ${Math.round(skew / 1000)} s off the server's clock`);
  }

  /**
   * Stores order pushes by CreateTime (a suite's TimeStamp), so one from the
   * future would make every real push after it "older" and refused (a
   * platform with no ticket, an account never served again). WeChat creates a push before it sends it,
   * and its timestamp passed the skew check: a genuine CreateTime is never
   * this far ahead. Refused, not clamped: a signed push with a forged time
   * means the message Token and EncodingAESKey have leaked, and its content
   * is not to be trusted either. A past CreateTime is left alone (retries are late).
   */
  private checkCreateTime(createTime: string | undefined, field: string): void {
    const created = Number(createTime);
    if (!Number.isFinite(created)) return;
    const ahead = created * 1000 - this.o.clock.now();
    if (ahead > this.o.maxClockSkewMs) throw new Refusal("future_create_time", `${field} is ${Math.round(ahead / 1000)} s ahead of the server's clock`);
  }

  private async readBody(req: IncomingMessage): Promise<Buffer> {
    const max = this.o.maxBodyBytes;
    const declared = Number(req.headers["content-length"] ?? 0);
    if (declared > max) throw new Refusal("too_large", `content-length ${declared} over ${max}`);
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of bodyChunks(req)) {
      size += chunk.length;
      if (size > max) throw new Refusal("too_large", `body over ${max} bytes`);
      chunks.push(chunk);
    }
    return Buffer.concat(chunks);
  }

  private remember(signature: string): void {
    this.seen.set(signature, this.o.clock.now());
    while (this.seen.size > MAX_SEEN) this.seen.delete(this.seen.keys().next().value!);
  }

  /** A signature older than the skew window cannot come again: its timestamp would be refused. */
  private forgetOld(): void {
    const horizon = this.o.clock.now() - 2 * this.o.maxClockSkewMs;
    for (const [signature, at] of this.seen) {
      if (at >= horizon) break;
      this.seen.delete(signature);
    }
  }

  private answer(res: ServerResponse, result: PushResultName, close = false): void {
    // A URL check wrote its own answer.
    if (res.headersSent) return;
    const [code, text] = ANSWERS[result];
    const headers: Record<string, string | number> = { "content-type": "text/plain; charset=utf-8", "content-length": Buffer.byteLength(text), "cache-control": "no-store" };
    if (result === "method_not_allowed") headers["allow"] = "POST";
    if (close) headers["connection"] = "close";
    res.writeHead(code, headers);
    res.end(text);
  }
}

/** What openPush threw, as an answer. Messages of these errors carry no secret. */
function refusalOf(err: unknown): Refusal {
  if (err instanceof PushXmlError) return new Refusal("malformed", err.message);
  if (err instanceof PushCryptoError) {
    const result: PushResultName = err.code === "bad_signature" ? "bad_signature" : err.code === "wrong_receiver" ? "wrong_receiver" : "bad_ciphertext";
    return new Refusal(result, err.message);
  }
  return new Refusal("malformed", "unreadable push");
}

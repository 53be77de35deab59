/**
 * `wxtoken callback-ip APP`: the seed use case end to end. A business service
 * holds a TokenSource, makes a WeChat call (GET /cgi-bin/getcallbackip) with
 * it, and recovers by itself when WeChat rejects the token. With --repeat it
 * keeps calling, so one can invalidate the token mid-run and watch it recover.
 */
import { TokenSource, type ClientAuthOptions } from "@wxtoken/client";
import { systemClock, type Clock } from "../clock.js";
import { tokenClientOptions } from "./client-commands.js";
import { WeChatClient } from "../upstream/wechat-client.js";

export interface CallbackIpOptions {
  /** The wxtoken server, e.g. 127.0.0.1:50051. */
  addr: string;
  appId: string;
  /** WeChat, or the fake's URL. */
  wechatBaseUrl: string;
  /** Calls to make; default 1. */
  repeat?: number;
  /** Real time between calls; default 1_000 ms. */
  intervalMs?: number;
  /** How long to wait for the first token, and in all for the server's advised retry delays on each call; default 10_000 ms. */
  timeoutMs?: number;
  /** API key and TLS, as for the other client commands; default plaintext without a key. */
  auth?: ClientAuthOptions;
  /** For token expiry checks; default the system clock (tests pass the server's fake clock). */
  clock?: Clock;
}

interface CallbackIpAnswer {
  ip_list: string[];
}

/** Prints each answer's ip_list as one JSON line on stdout; recoveries are noted on stderr. */
export async function callbackIpCommand(opts: CallbackIpOptions): Promise<void> {
  const repeat = opts.repeat ?? 1;
  const intervalMs = opts.intervalMs ?? 1_000;
  if (!Number.isInteger(repeat) || repeat < 1) throw new RangeError(`--repeat must be a positive integer, got ${opts.repeat}`);
  if (!(intervalMs >= 0)) throw new RangeError(`--interval must be >= 0 ms, got ${opts.intervalMs}`);
  const auth = opts.auth ?? {};
  const source = await TokenSource.create({
    address: opts.addr,
    appId: opts.appId,
    timeoutMs: opts.timeoutMs,
    clientOptions: tokenClientOptions(auth),
    clock: opts.clock ?? systemClock,
  });
  const wechat = new WeChatClient({ baseUrl: opts.wechatBaseUrl });
  try {
    for (let i = 0; i < repeat; i++) {
      if (i > 0 && intervalMs > 0) await new Promise((resolve) => setTimeout(resolve, intervalMs));
      const answer = await source.withToken((token) => wechat.callApi<CallbackIpAnswer>("/cgi-bin/getcallbackip", token), {
        // A refresh backing off (WeChat busy) says when to ask again: wait that long, within --timeout.
        retryWithinMs: opts.timeoutMs,
        onRetry: (rejected, fresh) =>
          process.stderr.write(`WeChat rejected the token (errcode ${rejected.errcode}); retrying with token v${fresh.version} (${fresh.fingerprint})\n`),
      });
      process.stdout.write(`${JSON.stringify(answer.ip_list)}\n`);
    }
  } finally {
    await wechat.close();
    await source.close();
  }
}

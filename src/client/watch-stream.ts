/**
 * A grpc-js server stream as an async generator of tokens. Newest wins: like
 * the server, we keep at most one unread token (each carries the full state),
 * so a slow consumer never builds a queue. The generator ending (break,
 * return, throw, or the signal) always cancels the call.
 */
import { status, type ClientReadableStream } from "@grpc/grpc-js";
import type { Token, WatchTokenResponse } from "../../generated/wxtoken/v1/token_service.js";
import { TokenServiceError } from "./errors.js";

export async function* tokensOf(call: ClientReadableStream<WatchTokenResponse>, signal?: AbortSignal): AsyncGenerator<Token, void, undefined> {
  let unread: Token | undefined;
  let ended: { error?: unknown } | undefined;
  let wake: (() => void) | undefined;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  call.on("data", (m: WatchTokenResponse) => {
    if (m.token && (!unread || m.token.version > unread.version)) unread = m.token;
    notify();
  });
  // These listeners stay attached after we are done, so the CANCELLED error
  // that our own cancel() causes never surfaces as an unhandled 'error'.
  call.on("error", (err: unknown) => {
    ended ??= { error: err };
    notify();
  });
  call.on("end", () => {
    ended ??= {};
    notify();
  });
  // grpc-js 1.14 leaks a call cancelled in the same tick it was started (the
  // call is sent anyway and never cancelled): cancel one tick later.
  const cancel = () => setImmediate(() => call.cancel());
  const onAbort = cancel;
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    for (;;) {
      if (signal?.aborted) return;
      if (unread) {
        const token = unread;
        unread = undefined;
        yield token;
        continue;
      }
      if (ended) {
        if (ended.error === undefined) return;
        // The caller's own abort is how a watch is meant to end: not an error.
        if (signal?.aborted && (ended.error as { code?: unknown }).code === status.CANCELLED) return;
        throw TokenServiceError.from("WatchToken", ended.error);
      }
      await new Promise<void>((resolve) => (wake = resolve));
    }
  } finally {
    signal?.removeEventListener("abort", onAbort);
    cancel();
  }
}

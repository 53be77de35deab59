/**
 * A grpc-js WatchToken call as an async iterator of tokens.
 *
 * The listeners go on the call the moment it starts, not when iteration
 * begins: an error the server answers before the first next() must surface
 * there (not crash the process as an unhandled 'error' event), and return()
 * or the signal must cancel a call nobody has read from yet. An async
 * generator cannot do either (its body, finally included, runs only from the
 * first next()), hence a small hand-written iterator.
 *
 * Newest wins: like the server, we keep at most one unread token (each carries
 * the full state), so a slow consumer never builds a queue. Ending (break,
 * return(), throw(), the signal, or the stream's own end) always cancels the call.
 */
import type { ClientReadableStream } from "@grpc/grpc-js";
import type { Token, WatchTokenResponse } from "../generated/wxtoken/v1/token_service.js";
import { TokenServiceError } from "./errors.js";

export interface TokenStreamOptions {
  /** Ends the stream: iteration then finishes without an error. */
  signal?: AbortSignal;
  /** Called when the server's response headers arrive: it has accepted the subscription. */
  onOpen?: () => void;
}

const DONE: IteratorReturnResult<void> = { done: true, value: undefined };

export function tokensOf(call: ClientReadableStream<WatchTokenResponse>, options: TokenStreamOptions = {}): AsyncGenerator<Token, void, undefined> {
  return new TokenStream(call, options);
}

class TokenStream implements AsyncGenerator<Token, void, undefined> {
  #unread: Token | undefined;
  #ended: { error?: unknown } | undefined;
  #closed = false;
  #wake: (() => void) | undefined;
  /** The read in progress: next() calls are served one at a time, in order, as a generator's are. */
  #reading: Promise<unknown> = Promise.resolve();
  readonly #call: ClientReadableStream<WatchTokenResponse>;
  readonly #signal: AbortSignal | undefined;
  readonly #onAbort = () => this.#close();

  constructor(call: ClientReadableStream<WatchTokenResponse>, options: TokenStreamOptions) {
    this.#call = call;
    this.#signal = options.signal;
    const { onOpen } = options;
    if (onOpen) call.once("metadata", () => onOpen());
    call.on("data", (m: WatchTokenResponse) => {
      if (m.token && (!this.#unread || m.token.version > this.#unread.version)) this.#unread = m.token;
      this.#notify();
    });
    // These listeners stay attached after we are done, so the CANCELLED error
    // that our own cancel() causes never surfaces as an unhandled 'error'.
    call.on("error", (err: unknown) => {
      this.#ended ??= { error: err };
      this.#notify();
    });
    call.on("end", () => {
      this.#ended ??= {};
      this.#notify();
    });
    if (this.#signal?.aborted) this.#close();
    else this.#signal?.addEventListener("abort", this.#onAbort, { once: true });
  }

  next(): Promise<IteratorResult<Token, void>> {
    const read = this.#reading.then(() => this.#read());
    this.#reading = read.catch(() => undefined);
    return read;
  }

  async return(): Promise<IteratorResult<Token, void>> {
    this.#close();
    return DONE;
  }

  async throw(err: unknown): Promise<IteratorResult<Token, void>> {
    this.#close();
    throw err;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#close();
  }

  async #read(): Promise<IteratorResult<Token, void>> {
    for (;;) {
      // Checked first: after the caller's own abort, neither a late token nor
      // the CANCELLED error it causes is delivered.
      if (this.#closed) return DONE;
      if (this.#unread) {
        const value = this.#unread;
        this.#unread = undefined;
        return { done: false, value };
      }
      if (this.#ended) {
        const { error } = this.#ended;
        this.#close();
        if (error === undefined) return DONE;
        throw TokenServiceError.from("WatchToken", error);
      }
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#unread = undefined;
    this.#signal?.removeEventListener("abort", this.#onAbort);
    // grpc-js 1.14 leaks a call cancelled in the same tick it was started (the
    // call is sent anyway and never cancelled): cancel one tick later.
    setImmediate(() => this.#call.cancel());
    this.#notify();
  }
}

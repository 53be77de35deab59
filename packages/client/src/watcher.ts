/**
 * The watch loop under a TokenSource (go-spiffe's watcher): keeps one
 * WatchToken stream open, and when it fails reconnects after a backoff delay,
 * passing the version it holds so the server sends only what is newer (or,
 * from a restarted lineage, its current token). The backoff is reset when a
 * stream opens (the server's response headers arrive), not when a token
 * arrives: a healthy reconnect that sends known_version may get no token for
 * hours, and the server's regular max-connection-age drops must not make each
 * reconnect wait longer than the last.
 */
import { status } from "@grpc/grpc-js";
import type { Token } from "../generated/wxtoken/v1/token_service.js";
import type { Clock, TimerHandle } from "./clock.js";
import type { Backoff } from "./backoff.js";
import { TokenServiceError } from "./errors.js";
import type { TokenClient, Which } from "./token-client.js";

/** What the watcher needs of a client: TokenClient (gRPC) and HttpTokenClient (server-sent events) both have it. */
export type WatchingClient = Pick<TokenClient, "watch">;
import { isNewer } from "./token-order.js";

export interface WatcherHandlers {
  /** A token newer than the one held (see isNewer: a higher version, or a new lineage). */
  onToken(token: Token): void;
  /** The stream failed; the next attempt starts in retryInMs (on the injected clock). */
  onError(err: TokenServiceError, retryInMs: number): void;
}

export class TokenWatcher {
  #held: Token | undefined;
  readonly #stop = new AbortController();
  #sleeping: { timer: TimerHandle; wake: () => void } | undefined;
  #loop: Promise<void> | undefined;

  constructor(
    private readonly client: WatchingClient,
    readonly appId: string,
    private readonly which: Which,
    private readonly clock: Clock,
    private readonly backoff: Backoff,
    private readonly handlers: WatcherHandlers,
  ) {}

  /** The version of the token held, sent as known_version on reconnect (0 before the first). */
  get version(): number {
    return this.#held?.version ?? 0;
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  /** Cancels the stream and any pending reconnect; resolves once the loop has ended. */
  async stop(): Promise<void> {
    this.#stop.abort();
    if (this.#sleeping) {
      this.clock.clearTimeout(this.#sleeping.timer);
      this.#sleeping.wake();
    }
    await this.#loop;
  }

  async #run(): Promise<void> {
    const signal = this.#stop.signal;
    while (!signal.aborted) {
      let failure: TokenServiceError;
      try {
        const tokens = this.client.watch(this.appId, {
          ...this.which,
          knownVersion: this.version,
          knownFingerprint: this.#held?.fingerprint,
          signal,
          onOpen: () => this.backoff.reset(),
        });
        for await (const token of tokens) {
          // A reconnect may reach a replica that is behind: never go back
          // within a lineage, but follow a restarted one.
          if (!isNewer(token, this.#held)) continue;
          this.#held = token;
          this.handlers.onToken(token);
        }
        if (signal.aborted) return;
        failure = new TokenServiceError("WatchToken", status.UNAVAILABLE, "the server ended the stream; reconnecting");
      } catch (err) {
        if (signal.aborted) return;
        failure = TokenServiceError.from("WatchToken", err);
      }
      const delay = this.backoff.next();
      this.handlers.onError(failure, delay);
      await this.#sleep(delay);
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const wake = () => {
        this.#sleeping = undefined;
        resolve();
      };
      this.#sleeping = { timer: this.clock.setTimeout(wake, ms), wake };
    });
  }
}

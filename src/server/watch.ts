/**
 * One WatchToken subscriber. Newest wins: at most one undelivered token is
 * kept per subscriber, so a slow reader never builds a queue; when write()
 * says the transport is full we wait for 'drain' and then send the newest.
 */
import { status, type ServerWritableStream, type ServiceError } from "@grpc/grpc-js";
import type { WatchTokenRequest, WatchTokenResponse } from "../../generated/wxtoken/v1/token_service.js";
import type { CredentialId, CredentialRecord as TokenRecord } from "../core/credential.js";
import type { Credential } from "../core/refresher.js";
import { responseOf } from "./encoded.js";

export type WatchCall = ServerWritableStream<WatchTokenRequest, WatchTokenResponse>;

export class Watcher {
  private lastSent: number;
  private pending: TokenRecord | undefined;
  private blocked = false;
  private closed = false;
  private readonly unsubscribe: () => void;

  /** The credential's key, for a reload that removes it. */
  readonly key: string;

  constructor(
    readonly call: WatchCall,
    private readonly app: Credential,
    /** The credential as the request named it (for a reload's authorization check). */
    readonly asked: CredentialId,
    known: { version: number; fingerprint: string },
    private readonly onClose: (w: Watcher, code: status) => void,
  ) {
    this.key = app.key;
    this.lastSent = Watcher.alreadySent(app, known);
    this.unsubscribe = app.onToken((t) => this.offer(t));
    // 'cancelled' covers client cancel and deadline; 'close'/'error' cover the rest.
    call.on("cancelled", () => this.close(status.CANCELLED));
    call.on("error", () => this.close(status.UNKNOWN));
    call.on("close", () => this.close(status.OK));
    const current = app.current();
    if (current) this.offer(current);
    // No valid token yet: ask for one (single flight, and no call at all while
    // backing off); the listener above delivers it when it comes.
    else app.get().catch(() => undefined);
  }

  /**
   * What the client already has, as a version to skip up to. A client that
   * holds a version this server never reached, or the same version with another
   * fingerprint, saw another lineage (a server restarted with the memory store
   * numbers from 1 again): it is sent what we have.
   */
  private static alreadySent(app: Credential, known: { version: number; fingerprint: string }): number {
    if (known.version > app.highestVersion()) return 0;
    const held = app.latest();
    if (known.fingerprint && held?.version === known.version && held.fingerprint !== known.fingerprint) return 0;
    return known.version;
  }

  /** Number of tokens waiting to be written (0 or 1). */
  backlog(): number {
    return this.pending ? 1 : 0;
  }

  offer(token: TokenRecord): void {
    if (this.closed || token.version <= this.lastSent) return;
    if (this.pending && this.pending.version >= token.version) return;
    this.pending = token;
    this.flush();
  }

  /** Ends the stream with a status (server shutdown), built by status.ts's toServiceError. */
  end(err: Partial<ServiceError>): void {
    if (this.closed) return;
    this.close(err.code ?? status.UNKNOWN);
    this.call.emit("error", err);
  }

  private flush(): void {
    while (!this.blocked && !this.closed && this.pending) {
      const token = this.pending;
      this.pending = undefined;
      // A reader that was blocked for long may be owed a token that has since
      // expired: never send one (the next token will come).
      if (!this.app.isValid(token)) continue;
      this.lastSent = token.version;
      if (!this.call.write(responseOf(token))) {
        this.blocked = true;
        this.call.once("drain", () => {
          this.blocked = false;
          this.flush();
        });
      }
    }
  }

  private close(code: status): void {
    if (this.closed) return;
    this.closed = true;
    this.pending = undefined;
    this.unsubscribe();
    this.onClose(this, code);
  }
}

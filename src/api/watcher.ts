/**
 * One watch subscriber, whatever the transport (a gRPC WatchToken stream, an
 * HTTP event stream). Newest wins: at most one undelivered value is kept per
 * subscriber, so a slow reader never builds a queue; when the sink says the
 * transport is full we wait for it to drain and then send the newest. Each
 * version is sent once, in order, and never one that has expired meanwhile.
 */
import type { CallInfo } from "../core/access-policy.js";
import type { CredentialId, CredentialRecord } from "../core/credential-id.js";
import type { Credential } from "../core/credential.js";

/** Where a watcher writes: the transport's side of one subscription. */
export interface WatchSink {
  /** Writes one value; false when the transport is full (then wait for onDrain). */
  write(token: CredentialRecord): boolean;
  onDrain(fn: () => void): void;
  /** Ends the stream with an error (shutdown, a reload that removed the credential or revoked the caller). */
  fail(err: unknown): void;
}

export class Watcher {
  private lastSent: number;
  private pending: CredentialRecord | undefined;
  private blocked = false;
  private closed = false;
  private readonly unsubscribe: () => void;
  private readonly closeListeners: (() => void)[] = [];

  /** The credential's key, for a reload that removes it. */
  readonly key: string;

  constructor(
    private readonly sink: WatchSink,
    private readonly app: Credential,
    /** The credential as the request named it, and who asked (a reload checks both again). */
    readonly asked: CredentialId,
    readonly caller: CallInfo,
    known: { version: number; fingerprint: string },
  ) {
    this.key = app.key;
    this.lastSent = Watcher.alreadySent(app, known);
    this.unsubscribe = app.onToken((t) => this.offer(t));
    const current = app.current();
    if (current) this.offer(current);
    // No valid value yet: ask for one (single flight, and no call at all while
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

  /** Values waiting to be written (0 or 1). */
  backlog(): number {
    return this.pending ? 1 : 0;
  }

  offer(token: CredentialRecord): void {
    if (this.closed || token.version <= this.lastSent) return;
    if (this.pending && this.pending.version >= token.version) return;
    this.pending = token;
    this.flush();
  }

  /** Ends the stream with an error (built by the transport from a WxTokenError). */
  end(err: unknown): void {
    if (this.closed) return;
    this.close();
    this.sink.fail(err);
  }

  /** The transport saw the stream end (client gone, cancelled): stop delivering. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.pending = undefined;
    this.unsubscribe();
    for (const fn of this.closeListeners.splice(0)) fn();
  }

  onClose(fn: () => void): void {
    if (this.closed) fn();
    else this.closeListeners.push(fn);
  }

  private flush(): void {
    while (!this.blocked && !this.closed && this.pending) {
      const token = this.pending;
      this.pending = undefined;
      // A reader that was blocked for long may be owed a value that has since
      // expired: never send one (the next will come).
      if (!this.app.isValid(token)) continue;
      this.lastSent = token.version;
      if (!this.sink.write(token)) {
        this.blocked = true;
        this.sink.onDrain(() => {
          this.blocked = false;
          this.flush();
        });
      }
    }
  }
}

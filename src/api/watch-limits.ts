/**
 * Caps on open watch streams (the config's `watches` section). A stream costs
 * the server memory for as long as its client keeps it (about 7 KiB of heap
 * each), and opening one costs the client next to nothing: unbounded, 4,000
 * event streams from one key, 5,000 WatchToken streams on one connection and
 * 5,000 unauthenticated health watches were all held. So each kind of stream
 * is capped per client (its name, or its IP address when unauthenticated),
 * per connection and in all. A refusal is RESOURCE_EXHAUSTED (HTTP 429),
 * counted, and logged once, then summarized at most once a minute: a flood of
 * refused streams must not become a flood of log lines.
 */
import type { Clock, TimerHandle } from "../clock.js";
import type { Principal } from "../core/access-policy.js";
import { WxTokenError } from "../errors.js";
import type { Logger } from "../log.js";

/** Token watches (WatchToken and the HTTP event stream) or grpc.health.v1.Health/Watch. */
export type WatchStreamKind = "token" | "health";
/** Which cap refused a stream. */
export type WatchLimit = "client" | "connection" | "total";
export const WATCH_LIMITS: readonly WatchLimit[] = ["client", "connection", "total"];

export interface WatchCaps {
  perClient: number;
  perConnection: number;
  total: number;
}

const CAP_OF: Record<WatchLimit, keyof WatchCaps> = { client: "perClient", connection: "perConnection", total: "total" };

/** The config keys of each cap, as messages and logs name them. */
const KEY: Record<WatchStreamKind, Record<WatchLimit, string>> = {
  token: { client: "watches.tokens.perClient", connection: "watches.tokens.perConnection", total: "watches.tokens.total" },
  health: { client: "watches.health.perPeer", connection: "watches.health.perConnection", total: "watches.health.total" },
};

/** A watch stream over one of the caps. */
export class TooManyWatchesError extends WxTokenError {
  override readonly name = "TooManyWatchesError";
  readonly reason = "TOO_MANY_WATCHES";
  readonly category = "exhausted";
  constructor(
    message: string,
    /** ErrorInfo's `limit`: PER_CLIENT, PER_PEER (health), PER_CONNECTION or TOTAL. */
    readonly limit: string,
    readonly max: number,
  ) {
    super(message);
  }
  override metadata(): Record<string, string> {
    return { limit: this.limit, max: String(this.max) };
  }
}

/** The caller's IP address from a peer string ("1.2.3.4:5678", "::1:5678"); "unknown" stays as it is. */
export function peerAddress(peer: string): string {
  return peer.replace(/:\d+$/, "");
}

/**
 * Whom the per-client cap counts: an authenticated client by its name (its
 * API key and its certificate count together), anyone else by IP address.
 */
export function watchClient(principal: Principal | undefined, peer: string): { key: string; shown: string } {
  if (principal && principal.method !== "anonymous") return { key: `client:${principal.name}`, shown: `client "${principal.name}"` };
  const address = peerAddress(peer);
  return { key: `peer:${address}`, shown: `peer ${address}` };
}

/**
 * The connection a peer string stands for: its address and port are unique
 * while it is open. A unix socket's peer has neither ("unknown"), so there
 * the per-connection cap does not apply.
 */
export function watchConnection(peer: string): string | undefined {
  return peer === "unknown" || peer === "" ? undefined : peer;
}

export class WatchLimiter {
  /** Streams refused, by the cap that refused them. */
  readonly refused: Record<WatchLimit, number> = { client: 0, connection: 0, total: 0 };
  private openStreams = 0;
  private readonly byClient = new Map<string, number>();
  private readonly byConnection = new Map<string, number>();
  private readonly report: RefusalReport;

  constructor(
    readonly kind: WatchStreamKind,
    readonly caps: WatchCaps,
    log: Logger,
    clock: Clock,
    reportEveryMs = 60_000,
  ) {
    this.report = new RefusalReport(kind, log, clock, reportEveryMs);
  }

  /** Streams open now. */
  get open(): number {
    return this.openStreams;
  }

  /**
   * Counts one more stream for the client and the connection, or throws
   * TooManyWatchesError. The returned function gives the place back (once;
   * later calls do nothing).
   */
  admit(client: { key: string; shown: string }, connection: string | undefined): () => void {
    const what = this.kind === "token" ? "watch streams" : "health watch streams";
    const clientOpen = this.byClient.get(client.key) ?? 0;
    const connectionOpen = connection === undefined ? 0 : (this.byConnection.get(connection) ?? 0);
    if (this.openStreams >= this.caps.total) this.refuse("total", `too many ${what} on this server: ${this.caps.total} open (${KEY[this.kind].total}); retry later`, client);
    if (clientOpen >= this.caps.perClient) {
      this.refuse("client", `too many ${what} from ${client.shown}: ${this.caps.perClient} open (${KEY[this.kind].client}); close some before opening more`, client);
    }
    if (connectionOpen >= this.caps.perConnection) {
      this.refuse("connection", `too many ${what} on this connection: ${this.caps.perConnection} open (${KEY[this.kind].connection}); use another connection`, client);
    }
    this.openStreams++;
    this.byClient.set(client.key, clientOpen + 1);
    if (connection !== undefined) this.byConnection.set(connection, connectionOpen + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.openStreams--;
      decrement(this.byClient, client.key);
      if (connection !== undefined) decrement(this.byConnection, connection);
    };
  }

  private refuse(limit: WatchLimit, message: string, client: { shown: string }): never {
    const max = this.caps[CAP_OF[limit]];
    this.refused[limit]++;
    this.report.note(limit, client.shown, max);
    const label = limit === "total" ? "TOTAL" : limit === "connection" ? "PER_CONNECTION" : this.kind === "health" ? "PER_PEER" : "PER_CLIENT";
    throw new TooManyWatchesError(message, label, max);
  }
}

function decrement(counts: Map<string, number>, key: string): void {
  const n = (counts.get(key) ?? 0) - 1;
  if (n > 0) counts.set(key, n);
  else counts.delete(key);
}

/**
 * Refusals in the log: the first one in a warn line of its own (which cap,
 * whose stream), then, while refusals go on, one line a minute with their
 * counts by cap.
 */
class RefusalReport {
  private window: TimerHandle | undefined;
  private counts: Record<WatchLimit, number> = { client: 0, connection: 0, total: 0 };

  constructor(
    private readonly kind: WatchStreamKind,
    private readonly log: Logger,
    private readonly clock: Clock,
    private readonly everyMs: number,
  ) {}

  note(limit: WatchLimit, who: string, max: number): void {
    if (this.window !== undefined) {
      this.counts[limit]++;
      return;
    }
    this.log.warn(
      { stream: this.kind, limit, caller: who, max, key: KEY[this.kind][limit] },
      `${this.kind} watch stream refused: ${who} is over ${KEY[this.kind][limit]} (${max}); further refusals are summarized every ${this.everyMs / 1000} s`,
    );
    this.open();
  }

  private open(): void {
    this.window = this.clock.setTimeout(() => this.close(), this.everyMs);
  }

  private close(): void {
    const counts = this.counts;
    const total = counts.client + counts.connection + counts.total;
    if (total === 0) {
      this.window = undefined;
      return;
    }
    this.counts = { client: 0, connection: 0, total: 0 };
    this.log.warn(
      { stream: this.kind, refused: counts, seconds: this.everyMs / 1000 },
      `${total} ${this.kind} watch streams refused in the last ${this.everyMs / 1000} s (per client ${counts.client}, per connection ${counts.connection}, in all ${counts.total})`,
    );
    this.open();
  }
}

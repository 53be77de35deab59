/**
 * A cap on one listener's open connections. Opening a connection costs an
 * attacker nothing (no key is needed to connect), and each one holds a file
 * descriptor: without a cap, idle connections on any one port used up the
 * process's descriptors, and every listener and the store failed with them.
 *
 * Node refuses a connection past `server.maxConnections` at accept, before any
 * code of ours runs. So when a new connection fills the listener, the
 * connection idle the longest (nothing in progress) is closed at once, leaving
 * room for the next caller: a client that connects and calls gets in past any
 * number of idle connections. Only when every connection has a request (or
 * call, or stream) in progress are new ones refused. Both are counted, and logged once when the
 * listener fills, then at most once a minute with a count.
 */
import type { Server, Socket } from "node:net";
import type { Clock, TimerHandle } from "../clock.js";
import type { Logger } from "../log.js";

export type ListenerName = "grpc" | "http" | "metrics" | "receiver";

/** One open connection: its raw socket and what it has in progress. */
export interface Connection {
  readonly socket: Socket;
  readonly pool: Pool;
  /** Requests, calls or streams in progress: a busy connection is never closed for room. */
  busy: number;
  /** Closes the connection unless it starts a request in time (firstUseMs). */
  firstUse?: NodeJS.Timeout;
}

const CONNECTION = Symbol("wxtoken.connection");

type Tagged = { [CONNECTION]?: Connection; _parent?: { [CONNECTION]?: Connection } } | null | undefined;

/**
 * The connection a socket belongs to: the raw socket's, also through a TLS
 * socket over it (`_parent`) or an HTTP/2 session's socket proxy (which
 * forwards property reads to the socket).
 */
export function connectionOf(socket: unknown): Connection | undefined {
  const s = socket as Tagged;
  return s?.[CONNECTION] ?? s?._parent?.[CONNECTION];
}

/** The connections of one listening server. */
interface Pool {
  readonly max: number;
  readonly open: Set<Connection>;
  /** Those with nothing in progress, idle the longest first (a Set keeps insertion order). */
  readonly idle: Set<Connection>;
}

export interface ConnectionCapOptions {
  log: Logger;
  clock: Clock;
  /** A connection that has started no request this long after it opened is closed (gRPC: Node's HTTP servers have headersTimeout). */
  firstUseMs?: number;
  /** How often, at most, a full listener is logged (default a minute). */
  reportEveryMs?: number;
}

export class ConnectionCap {
  private readonly pools: Pool[] = [];
  /** New connections refused because every connection was busy. */
  refused = 0;
  /** Idle connections closed to make room for new ones. */
  evicted = 0;
  private readonly report: FullReport;

  constructor(
    readonly listener: ListenerName,
    readonly max: number,
    private readonly o: ConnectionCapOptions,
  ) {
    this.report = new FullReport(listener, max, o.log, o.clock, o.reportEveryMs ?? 60_000);
  }

  get open(): number {
    return this.pools.reduce((n, p) => n + p.open.size, 0);
  }

  /**
   * Caps a server. A listener with several servers (grpc-js binds one per
   * address a name resolves to) gives each its share of the cap. At least 2:
   * one connection, and the place kept free for the next.
   */
  attach(server: Server, max = this.max): void {
    const pool: Pool = { max: Math.max(2, max), open: new Set(), idle: new Set() };
    this.pools.push(pool);
    server.maxConnections = pool.max;
    // Before the HTTP (or HTTP/2, TLS) layer's own listener, so the tag is there when it looks.
    server.prependListener("connection", (socket: Socket) => this.opened(pool, socket));
    server.on("drop", () => {
      this.refused++;
      this.report.note("refused");
    });
  }

  /** A request (call, stream) started on the connection. */
  begin(conn: Connection): void {
    if (conn.busy++ === 0) conn.pool.idle.delete(conn);
    clearTimeout(conn.firstUse);
    conn.firstUse = undefined;
  }

  /** A request (call, stream) of the connection ended. */
  end(conn: Connection): void {
    if (conn.busy === 0) return;
    // Idle again: the last to be closed for room.
    if (--conn.busy === 0 && conn.pool.open.has(conn)) conn.pool.idle.add(conn);
  }

  private opened(pool: Pool, socket: Socket): void {
    const conn: Connection = { socket, pool, busy: 0 };
    (socket as Tagged & object)[CONNECTION] = conn;
    pool.open.add(conn);
    pool.idle.add(conn);
    if (this.o.firstUseMs !== undefined) {
      conn.firstUse = setTimeout(() => socket.destroy(), this.o.firstUseMs);
      conn.firstUse.unref();
    }
    socket.once("close", () => {
      clearTimeout(conn.firstUse);
      pool.open.delete(conn);
      pool.idle.delete(conn);
    });
    if (pool.open.size >= pool.max) this.makeRoom(pool, conn);
  }

  /** Closes the connection idle the longest, other than the newcomer (the last idle one), if there is one. */
  private makeRoom(pool: Pool, newcomer: Connection): void {
    for (const c of pool.idle) {
      if (c === newcomer) return;
      pool.open.delete(c);
      pool.idle.delete(c);
      c.socket.destroy();
      this.evicted++;
      this.report.note("evicted");
      return;
    }
  }
}

/**
 * A full listener in the log: one warn line when it fills, then, while it
 * stays full, one a minute with what happened in it: a flood of connections
 * must not become a flood of log lines.
 */
class FullReport {
  private window: TimerHandle | undefined;
  private counts = { refused: 0, evicted: 0 };

  constructor(
    private readonly listener: ListenerName,
    private readonly max: number,
    private readonly log: Logger,
    private readonly clock: Clock,
    private readonly everyMs: number,
  ) {}

  note(what: "refused" | "evicted"): void {
    if (this.window !== undefined) {
      this.counts[what]++;
      return;
    }
    this.log.warn(
      { listener: this.listener, maxConnections: this.max, [what]: 1 },
      what === "refused"
        ? `${this.listener} listener full (every connection busy): refusing new connections`
        : `${this.listener} listener full: closing the connections idle the longest to admit new ones`,
    );
    this.open();
  }

  private open(): void {
    this.window = this.clock.setTimeout(() => this.close(), this.everyMs);
  }

  private close(): void {
    const { refused, evicted } = this.counts;
    if (refused + evicted === 0) {
      this.window = undefined;
      return;
    }
    this.counts = { refused: 0, evicted: 0 };
    this.log.warn(
      { listener: this.listener, maxConnections: this.max, refused, evicted, seconds: this.everyMs / 1000 },
      `${this.listener} listener still full: ${refused} connections refused and ${evicted} idle ones closed in the last ${this.everyMs / 1000} s`,
    );
    this.open();
  }
}

/**
 * Connection limits for the gRPC port. grpc-js has no connection limit and
 * keeps its HTTP/2 servers private; after bind this reaches them (as
 * closeIdleConnections reaches its sessions) to:
 *
 * - cap their connections (ConnectionCap; the servers of one bind share it);
 * - close a connection that has started no call `firstUseMs` after it
 *   opened: a TCP probe, a stalled TLS handshake, an HTTP/2 client that only
 *   holds the connection (grpc-js's keepalive cut the first kind after 40 s
 *   and never the last);
 * - mark a connection with a call or stream in progress as busy, so it is never
 *   closed to make room;
 * - close the socket once its HTTP/2 session is closed. After a GOAWAY (idle,
 *   max age, shutdown) Node only ends its side, and a client that never
 *   closes its own kept the descriptor for ever.
 *
 * A connection with no call for `idleMs` is closed by grpc-js itself
 * (grpc.max_connection_idle_ms, set from the same limits).
 */
import type { Server } from "@grpc/grpc-js";
import type { Http2Session, ServerHttp2Stream } from "node:http2";
import type { Server as NetServer } from "node:net";
import type { Logger } from "../log.js";
import { connectionOf, type ConnectionCap } from "../listeners/connection-cap.js";

export interface GrpcLimits {
  /** Its firstUseMs closes a connection that starts no call in time. */
  cap: ConnectionCap;
  /** grpc.max_connection_idle_ms. */
  idleMs: number;
}

/** HTTP/2 servers already limited (a second bind adds new ones). */
const limited = new WeakSet<object>();

/** Applies the limits to the HTTP/2 servers grpc-js has bound so far. */
export function limitGrpcConnections(server: Server, limits: GrpcLimits, log: Logger): void {
  // grpc-js (1.14) keeps them in a private map; without it, say so rather than run uncapped in silence.
  const servers = (server as unknown as { http2Servers?: unknown }).http2Servers;
  if (!(servers instanceof Map)) {
    log.warn("grpc-js no longer exposes its HTTP/2 servers: gRPC connections are not capped");
    return;
  }
  const fresh = [...(servers.keys() as Iterable<NetServer>)].filter((s) => !limited.has(s));
  const share = Math.floor(limits.cap.max / Math.max(1, fresh.length));
  for (const h2 of fresh) {
    limited.add(h2);
    limits.cap.attach(h2, share);
    h2.on("session", (session: Http2Session) => follow(session, limits.cap));
  }
}

function follow(session: Http2Session, cap: ConnectionCap): void {
  const conn = connectionOf(session.socket);
  if (!conn) return;
  session.on("stream", (stream: ServerHttp2Stream) => {
    cap.begin(conn);
    stream.once("close", () => cap.end(conn));
  });
  // The socket under the session (TLS or not), through the session's proxy;
  // destroySoon taken now, as Node detaches the socket from a closed session.
  const socket = session.socket;
  const destroySoon = socket.destroySoon;
  // A closing session ends its side of the socket and waits for the client's
  // FIN (the session's 'close' waits too): once ours is out, the socket goes.
  socket.once("finish", () => destroySoon());
}

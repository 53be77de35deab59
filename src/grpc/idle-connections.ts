/**
 * grpc-js's tryShutdown closes each HTTP/2 session gracefully: a GOAWAY, and
 * once the session's calls are done Node ends the socket and waits for the
 * client to close its side. A client that keeps an idle connection open
 * (grpcio does for seconds, a stuck client for ever) so holds a shutdown for
 * the whole grace period. This closes a connection as soon as it has no call
 * left; connections with calls in flight keep their grace.
 */
import type { Server } from "@grpc/grpc-js";
import type { Http2Session } from "node:http2";

/** Call before tryShutdown; sweeps until the returned function is called. */
export function closeIdleConnections(server: Server, intervalMs = 20): () => void {
  // grpc-js (1.14) keeps its sessions private; without them, shutdown behaves as before.
  const sessions = (server as unknown as { sessions?: unknown }).sessions;
  if (!(sessions instanceof Map)) return () => undefined;
  // Node detaches the socket from a session it destroys, so take hold of it
  // now (destroySoon is one of the socket methods its proxy hands out).
  const closers = new Map<Http2Session, () => void>();
  for (const session of sessions.keys() as Iterable<Http2Session>) {
    try {
      const destroySoon = session.socket.destroySoon;
      if (typeof destroySoon === "function") closers.set(session, destroySoon);
    } catch {
      // No socket any more: nothing to wait for.
    }
  }
  const timer = setInterval(() => {
    for (const [session, destroySoon] of closers) {
      // A closing session is destroyed once its last call ends; then only the socket is left.
      if (!session.destroyed) continue;
      closers.delete(session);
      // Ends the socket after what is queued (the GOAWAY), then closes it.
      destroySoon();
    }
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

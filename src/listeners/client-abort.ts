/**
 * A client that closes its connection in the middle of a request body is the
 * client's doing, not a fault of the server: the HTTP listeners log it at
 * debug level and count it as its own outcome (CANCELLED, "aborted"), not as
 * an internal error with a stack trace.
 */
import type { IncomingMessage } from "node:http";

export class ClientAbortError extends Error {
  override readonly name = "ClientAbortError";
  constructor() {
    super("the client closed the connection before the request body was complete");
  }
}

/** The request body's chunks; a connection closed before the body is complete throws ClientAbortError. */
export async function* bodyChunks(req: IncomingMessage): AsyncGenerator<Buffer> {
  try {
    for await (const chunk of req as AsyncIterable<Buffer>) yield chunk;
  } catch (err) {
    if (!req.complete) throw new ClientAbortError();
    throw err;
  }
}

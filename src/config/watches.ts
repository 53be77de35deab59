/**
 * The `watches` section of the config file: caps on open watch streams
 * (src/api/watch-limits.ts, docs/security.md#watch-stream-limits). Its own
 * file, documented like schema.ts (scripts/config-doc.mjs reads both).
 */
import { z } from "zod";

const count = (fallback: number) => z.number().int().positive().max(10_000_000).default(fallback);

/** Caps on open watch streams, so that no caller holds the server's memory with streams it opens for free. A stream over a cap is refused with RESOURCE_EXHAUSTED (HTTP 429). */
const watches = z.strictObject({
  /** WatchToken streams and the HTTP API's event streams, counted together. */
  tokens: z
    .strictObject({
      /** Open at once per client: an authenticated client by its name (API key and certificate together), others by IP address (without auth, every caller on one host shares it). */
      perClient: count(2_000),
      /** Open at once on one gRPC connection (an HTTP/1.1 connection carries one event stream at a time; over a unix socket this cap does not apply). */
      perConnection: count(500),
      /** Open at once on the server, every client together (about 7 KiB of memory each). */
      total: count(20_000),
    })
    .prefault({}),
  /** grpc.health.v1.Health/Watch streams, which need no credentials. */
  health: z
    .strictObject({
      /** Open at once per IP address. */
      perPeer: count(100),
      /** Open at once on one gRPC connection (gRPC's client-side health checking opens one per connection). */
      perConnection: count(10),
      /** Open at once on the server. */
      total: count(10_000),
    })
    .prefault({}),
});

export const watchesSchema = watches.prefault({});
export type WatchesConfig = z.infer<typeof watches>;

/**
 * What the server writes to one WatchToken stream, seen from inside: the
 * versions written, the first write() the transport refused, and how often it
 * drained. A reader's view cannot tell "the server sent nothing while it was
 * stuck" from "the server queued it all somewhere"; this can.
 */
import type { WatchTokenResponse } from "../../generated/wxtoken/v1/token_service.js";
import type { Watcher } from "../../src/server/watch.js";

export interface Writes {
  versions: number[];
  /** Index in versions of the first write() that returned false. */
  firstRefused: number | undefined;
  drains: number;
  /** Writes after the first refused one. */
  afterRefused(): number;
}

/** Starts recording; call it before the writes of interest (it wraps the stream's write()). */
export function countWrites(watcher: Watcher): Writes {
  const call = watcher.call;
  const write = call.write.bind(call) as (message: WatchTokenResponse) => boolean;
  const seen = { versions: [] as number[], firstRefused: undefined as number | undefined, drains: 0 };
  call.write = ((message: WatchTokenResponse) => {
    const ok = write(message);
    seen.versions.push(message.token!.version);
    if (!ok && seen.firstRefused === undefined) seen.firstRefused = seen.versions.length - 1;
    return ok;
  }) as typeof call.write;
  call.on("drain", () => seen.drains++);
  return Object.assign(seen, {
    afterRefused: () => (seen.firstRefused === undefined ? 0 : seen.versions.length - 1 - seen.firstRefused),
  });
}


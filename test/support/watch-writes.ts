/**
 * What the server writes to one WatchToken stream, seen from inside: the
 * versions written, the first write() the transport refused, and how often it
 * drained. A reader's view cannot tell "the server sent nothing while it was
 * stuck" from "the server queued it all somewhere"; this can.
 */
import type { Watcher } from "../../src/api/watcher.js";

export interface Writes {
  versions: number[];
  /** Index in versions of the first write() that returned false. */
  firstRefused: number | undefined;
  drains: number;
  /** Writes made while the transport was full: after a write() returned false, before its 'drain'. */
  whileFull: number;
  /** Writes after the first refused one. */
  afterRefused(): number;
}

/** Starts recording; call it before the writes of interest (it wraps the watcher's sink: the stream's write() and 'drain'). */
export function countWrites(watcher: Watcher): Writes {
  const sink = watcher["sink"];
  const write = sink.write.bind(sink);
  const onDrain = sink.onDrain.bind(sink);
  const seen = { versions: [] as number[], firstRefused: undefined as number | undefined, drains: 0, whileFull: 0 };
  let full = false;
  sink.write = (token) => {
    if (full) seen.whileFull++;
    const ok = write(token);
    full = !ok;
    seen.versions.push(token.version);
    if (!ok && seen.firstRefused === undefined) seen.firstRefused = seen.versions.length - 1;
    return ok;
  };
  sink.onDrain = (fn) =>
    onDrain(() => {
      seen.drains++;
      full = false;
      fn();
    });
  return Object.assign(seen, {
    afterRefused: () => (seen.firstRefused === undefined ? 0 : seen.versions.length - 1 - seen.firstRefused),
  });
}


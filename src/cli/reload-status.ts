/**
 * How `wxtoken retry` learns what its SIGHUP did. A signal carries no answer,
 * so `serve --pidfile FILE` keeps the outcome of its latest reload in
 * FILE.reload.json beside the pidfile: written at start (reloads 0) and after
 * every SIGHUP, replaced whole (a rename, so a reader never sees half of it),
 * removed at exit with the pidfile. Only the server's own user (or root),
 * who may also signal it, can read it.
 */
import { readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";

export interface ReloadStatus {
  /** The server's process id: a file left by another process is not its answer. */
  pid: number;
  /** SIGHUPs handled since the start: the answer to a signal is the first status with more than before it. */
  reloads: number;
  /** When this status was written (ISO 8601). */
  at: string;
  /** Whether the config was applied; when not, the server keeps running with the config it had. */
  ok: boolean;
  /** Why the config was not applied (the message the log has). */
  error?: string;
  /** Changed keys that take effect only after a restart. */
  needsRestart: string[];
  /** Credentials told to retry at once (they were failing), with the new config or, after a failure, the old one. */
  retrying: string[];
}

/** Where the status of the server that wrote `pidfile` is. */
export function reloadStatusPath(pidfile: string): string {
  return `${pidfile}.reload.json`;
}

export function writeReloadStatus(path: string, status: ReloadStatus): void {
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, `${JSON.stringify(status)}\n`, { mode: 0o600 });
  renameSync(temp, path);
}

export function removeReloadStatus(path: string): void {
  rmSync(path, { force: true });
}

/** The status in `path`, or undefined when there is none (or it is not one). */
export function readReloadStatus(path: string): ReloadStatus | undefined {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, "utf8"));
  } catch {
    return undefined;
  }
  const s = value as Partial<ReloadStatus> | null;
  if (typeof s !== "object" || s === null || typeof s.pid !== "number" || typeof s.reloads !== "number" || typeof s.ok !== "boolean") return undefined;
  return { pid: s.pid, reloads: s.reloads, at: String(s.at), ok: s.ok, error: typeof s.error === "string" ? s.error : undefined, needsRestart: s.needsRestart ?? [], retrying: s.retrying ?? [] };
}

/**
 * The status of process `pid` once it reports more than `after` reloads;
 * undefined if it has not by `timeoutMs`. Polls: the server answers within
 * milliseconds, and a file watch is not reliable on every filesystem.
 */
export async function awaitReload(path: string, pid: number, after: number, timeoutMs: number): Promise<ReloadStatus | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = readReloadStatus(path);
    if (s && s.pid === pid && s.reloads > after) return s;
    if (Date.now() >= deadline) return undefined;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * A store's health as its writes go: down from a write the disk (or Redis)
 * refused, up again at the next one that lands. The stores retry failed
 * writes by themselves, so this follows without asking anything of its own.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, rmSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import type { Logger } from "../log.js";
import type { StoreHealth } from "../core/store.js";

export class WriteHealth implements StoreHealth {
  private ok = true;
  private readonly listeners = new Set<(healthy: boolean) => void>();

  constructor(
    /** Where, for the log line when writes land again: a path, or Redis's address. */
    private readonly where: string,
    private readonly log?: Logger,
  ) {}

  healthy(): boolean {
    return this.ok;
  }

  onChange(listener: (healthy: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** A write landed. */
  succeeded(): void {
    if (this.ok) return;
    this.log?.info({ where: this.where }, "the token store takes writes again");
    this.set(true);
  }

  /** A write was refused (the store logs why). */
  failed(): void {
    this.set(false);
  }

  private set(ok: boolean): void {
    if (this.ok === ok) return;
    this.ok = ok;
    for (const l of [...this.listeners]) l(ok);
  }
}

/** The local store's directory is not one this process can write in. */
export class StoreUnwritableError extends Error {
  override readonly name = "StoreUnwritableError";
}

/**
 * Checks at start that the directory of a local store's `path` exists (made
 * 0700 if not) and takes a file: a read-only or misplaced directory is then a
 * clear error at start, not a failed first write an hour later, after tokens
 * were fetched that cannot be kept.
 */
export function checkWritableDir(path: string): void {
  const dir = dirname(path);
  const probe = join(dir, `.${basename(path)}.${process.pid}.probe`);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const fd = openSync(probe, "w", 0o600);
    try {
      writeSync(fd, "wxtoken");
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    rmSync(probe);
  } catch (err) {
    try {
      rmSync(probe, { force: true });
    } catch {
      // Never made (the directory is not one).
    }
    throw unwritable(dir, err);
  }
}

/** What an operator reads when the store's directory (or file) refuses a write at start. */
export function unwritable(where: string, err: unknown): StoreUnwritableError {
  const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
  // mkdir over a file answers EEXIST, a path through one ENOTDIR.
  const why = code === "EEXIST" || code === "ENOTDIR" ? "not a directory" : code;
  const user = typeof process.getuid === "function" ? ` (uid ${process.getuid()})` : "";
  return new StoreUnwritableError(
    `the token store cannot write in ${where} (${why}): it keeps tokens, quota counts and Open Platform refresh tokens there. ` +
      `Make it a directory this process's user${user} can write in, or set store.path to one`,
  );
}

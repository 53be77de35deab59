import { chmod, mkdir, open, readdir, readFile, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { Logger } from "../log.js";
import { isStoredQuota, toStoredCredential, type StoredQuota, type StoredCredential, type TokenStore } from "../core/store.js";
import { PlatformRecords, RecordsBackedStore } from "./platform-records.js";
import { checkWritableDir, WriteHealth } from "./write-health.js";

const FORMAT = 1;

/** A temp snapshot older than this is not being written: a write takes milliseconds. */
const STALE_TEMP_MS = 60_000;

/** Temp files this process is writing right now (several stores may share a process, as in tests). */
const writingNow = new Set<string>();

/**
 * A JSON snapshot of every credential (tokens and tickets, by key) in one file, so that a restart serves a
 * still-valid token with no upstream call (a crash loop must not burn the daily
 * quota). Written atomically (temp file, fsync, rename) with mode 0600: it
 * holds live tokens. Writes are coalesced: many saves, one write.
 */
export class FileStore extends RecordsBackedStore implements TokenStore {
  readonly kind = "file";
  private readonly tokens = new Map<string, StoredCredential>();
  private readonly quotas = new Map<string, StoredQuota>();
  /** Platform records (tickets, tenants and their secrets, pending codes): in the snapshot, each change durable (or taken back) before it resolves. */
  protected readonly platforms = new PlatformRecords(
    () => this.durable(),
    // Read once, before the first platform call: a write must not replace a snapshot it has not read.
    () => this.load(),
    (keys) => {
      for (const key of keys) this.tokens.delete(key);
    },
  );
  private writing: Promise<void> | undefined;
  private dirty = false;
  /** Bumped by every change; a write covers every change made before it started. */
  private generation = 0;
  private durableWaiters: { generation: number; resolve: () => void; reject: (err: Error) => void }[] = [];
  private loading: Promise<void> | undefined;
  /** After a failed write: the next try, and how long the one after waits. */
  private retryTimer: NodeJS.Timeout | undefined;
  private retryMs: number;
  private closed = false;
  /** Down from a write the disk refused until one lands (gRPC health's wxtoken.v1.Store). */
  readonly health: WriteHealth;

  constructor(
    readonly path: string,
    private readonly log?: Logger,
    /** The first wait before writing again after a failed write (doubling up to 60 s). */
    private readonly firstRetryMs = 1000,
  ) {
    super();
    this.retryMs = firstRetryMs;
    this.health = new WriteHealth(path, log);
  }

  /** Reads the snapshot (once: later calls get what the first read). */
  async load(): Promise<Map<string, StoredCredential>> {
    this.loading ??= this.read();
    await this.loading;
    return new Map(this.tokens);
  }

  private async read(): Promise<void> {
    // Snapshots are written beside it (temp file, rename): found out now, not at the first write.
    checkWritableDir(this.path);
    await this.removeStaleTemps();
    let text: string;
    try {
      text = await readFile(this.path, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
      throw err;
    }
    // A snapshot written by an older umask or copied by hand is tightened.
    await chmod(this.path, 0o600).catch(() => undefined);
    try {
      const snapshot = parseSnapshot(text);
      for (const [key, t] of snapshot.tokens) this.tokens.set(key, t);
      for (const [key, q] of snapshot.quotas) this.quotas.set(key, q);
      this.platforms.load(snapshot.platforms);
    } catch (err) {
      // Costs one token fetch per app, which beats refusing to start. The file is
      // moved aside, not overwritten: it may hold refresh tokens an operator can recover.
      const aside = `${this.path}.unreadable-${Date.now()}`;
      await rename(this.path, aside).catch(() => undefined);
      this.log?.error({ path: this.path, movedTo: aside, err: (err as Error).message }, "token snapshot unreadable; moved aside, starting without it");
    }
  }

  save(token: StoredCredential): void {
    this.tokens.set(token.key, { ...token });
    this.markDirty();
  }

  quota(appId: string): StoredQuota | undefined {
    return this.quotas.get(appId);
  }

  saveQuota(appId: string, quota: StoredQuota): void {
    this.quotas.set(appId, { ...quota });
    this.markDirty();
  }

  private markDirty(): void {
    this.generation++;
    this.dirty = true;
    this.startWriting();
  }

  private startWriting(): void {
    if (this.retryTimer) {
      clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
    }
    if (!this.writing) this.writing = this.writeLoop();
  }

  async flush(): Promise<void> {
    while (this.writing) await this.writing;
  }

  async close(): Promise<void> {
    await this.flush();
    // A failed write waiting for its retry: one last try.
    if (this.dirty) {
      this.startWriting();
      await this.flush();
    }
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }

  private async writeLoop(): Promise<void> {
    try {
      // Yield once so that saves made in the same tick share one write.
      await new Promise<void>((resolve) => setImmediate(resolve));
      while (this.dirty) {
        this.dirty = false;
        const covered = this.generation;
        try {
          await this.writeSnapshot();
        } catch (err) {
          this.log?.error({ path: this.path, err: (err as Error).message, retryInMs: this.retryMs }, "could not write token snapshot");
          const failed = new Error(`could not write ${this.path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
          // Platform changes waiting on it are taken back (their callers retry);
          // tokens and quota counts stay dirty and are written by the next try.
          for (const w of this.durableWaiters.splice(0)) w.reject(failed);
          this.health.failed();
          this.dirty = true;
          this.retryLater();
          return;
        }
        this.retryMs = this.firstRetryMs;
        this.health.succeeded();
        const done = this.durableWaiters.filter((w) => w.generation <= covered);
        this.durableWaiters = this.durableWaiters.filter((w) => w.generation > covered);
        for (const w of done) w.resolve();
      }
    } finally {
      this.writing = undefined;
    }
  }

  /** A failed write is tried again by itself, sooner if another change comes first. */
  private retryLater(): void {
    if (this.closed || this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.startWriting();
    }, this.retryMs);
    this.retryTimer.unref();
    this.retryMs = Math.min(this.retryMs * 2, 60_000);
  }

  private async writeSnapshot(): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
    const body =
      JSON.stringify({ format: FORMAT, tokens: Object.fromEntries(this.tokens), quota: Object.fromEntries(this.quotas), platforms: this.platforms.toJSON() }, null, 2) + "\n";
    const tmp = `${this.path}.${process.pid}.tmp`;
    writingNow.add(tmp);
    try {
      const file = await open(tmp, "w", 0o600);
      try {
        await file.writeFile(body, "utf8");
        await file.sync();
      } catch (err) {
        await file.close();
        await rm(tmp, { force: true });
        throw err;
      }
      await file.close();
      await rename(tmp, this.path);
    } finally {
      writingNow.delete(tmp);
    }
  }

  /** Marks the snapshot dirty and resolves once a write holding this change is fsynced (rejects when it failed). */
  private durable(): Promise<void> {
    this.markDirty();
    const generation = this.generation;
    return new Promise((resolve, reject) => this.durableWaiters.push({ generation, resolve, reject }));
  }

  /**
   * A write killed before its rename leaves `<path>.<pid>.tmp` behind, holding
   * live tokens. Removed unless a live process (not us) may be writing it now.
   */
  private async removeStaleTemps(): Promise<void> {
    const dir = dirname(this.path);
    const prefix = basename(this.path) + ".";
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      return;
    }
    const removed: string[] = [];
    for (const name of names) {
      const pid = name.startsWith(prefix) && name.endsWith(".tmp") ? name.slice(prefix.length, -".tmp".length) : undefined;
      if (pid === undefined || !/^[0-9]{1,10}$/.test(pid)) continue;
      const tmp = join(dir, name);
      if (writingNow.has(tmp)) continue;
      try {
        const old = Date.now() - (await stat(tmp)).mtimeMs > STALE_TEMP_MS;
        // Our own pid is stale too: a container's previous run had the same pid.
        if (!old && Number(pid) !== process.pid && isRunning(Number(pid))) continue;
        await rm(tmp, { force: true });
        removed.push(name);
      } catch {
        // Gone meanwhile, or not ours to remove: leave it.
      }
    }
    if (removed.length > 0) this.log?.info({ dir, files: removed }, "removed temp snapshots left by interrupted writes");
  }
}

/** What a snapshot holds (malformed entries skipped; platforms as written, for PlatformRecords.load); throws when it is not one. */
export function parseSnapshot(text: string): { tokens: Map<string, StoredCredential>; quotas: Map<string, StoredQuota>; platforms: unknown } {
  const data = JSON.parse(text) as { format?: number; tokens?: Record<string, unknown>; quota?: Record<string, unknown>; platforms?: unknown };
  if (data.format !== FORMAT || typeof data.tokens !== "object" || data.tokens === null) throw new Error(`unknown format ${String(data.format)}`);
  const tokens = new Map<string, StoredCredential>();
  for (const [key, raw] of Object.entries(data.tokens)) {
    const t = toStoredCredential(raw);
    if (t && t.key === key) tokens.set(key, t);
  }
  const quotas = new Map<string, StoredQuota>();
  for (const [key, q] of Object.entries(data.quota ?? {})) {
    if (isStoredQuota(q)) quotas.set(key, q);
  }
  return { tokens, quotas, platforms: data.platforms };
}

function isRunning(pid: number): boolean {
  if (pid < 1 || pid > 0x7fffffff) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, as another user's process.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * The SQLite store killed the hard way (SIGKILL: no close, no checkpoint)
 * in the middle of its writes loses nothing it had acknowledged: every
 * authorization whose save had resolved, every ticket, every token a flush
 * had covered. The writer is a separate process running the compiled
 * package (test/support/build.ts); it prints each acknowledgement after the
 * promise resolved, on a pipe (synchronous on Linux), so what the test read
 * was acknowledged before the kill.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, inject, it } from "vitest";
import { SqliteStore } from "../../src/store/sqlite-store.js";
import { eventually, tempDir } from "../support/harness.js";

const C1 = "wxcomponentcrash01";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Runs until killed: each round saves a token, an authorization and a ticket, and flushes every 7th round. */
const WRITER = `
const { SqliteStore } = await import(process.env.STORE_MODULE);
const store = new SqliteStore({ path: process.env.DB });
await store.load();
const T0 = Date.UTC(2026, 0, 1);
for (let i = 0; ; i++) {
  const appId = "wxcrash" + String(i).padStart(8, "0");
  store.save({ key: appId, value: "access-" + i, version: 1, obtainedAt: T0, expiresAt: T0 + 7200000 });
  // Not awaited together: the token write and the platform writes interleave.
  const [saved, ticket] = await Promise.all([
    store.saveAuthorizer("${C1}", { appId, refreshToken: "refresh-" + i, status: "active", authorizedAt: T0 + i, updatedAt: T0 + i }),
    store.saveTicket("${C1}", { value: "ticket-" + i, createdAt: T0 + i, receivedAt: T0 + i, expiresAt: T0 + i + 43200000 }),
  ]);
  if (!saved || !ticket) throw new Error("refused " + i);
  process.stdout.write("authorized " + i + "\\n");
  if (i % 7 === 6) {
    await store.flush();
    process.stdout.write("flushed " + i + "\\n");
  }
}
`;

describe("SqliteStore killed with SIGKILL mid-writes", () => {
  it("keeps everything it acknowledged, and the database is intact", async () => {
    const dir = tempDir();
    const db = join(dir, "state", "wxtoken.db");
    const child = spawn(process.execPath, ["--input-type=module", "-e", WRITER], {
      env: { ...process.env, DB: db, STORE_MODULE: join(inject("build").root, "dist/src/store/sqlite-store.js") },
      stdio: ["ignore", "pipe", "pipe"],
    });
    cleanups.push(() => child.kill("SIGKILL"));
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const closed = new Promise<NodeJS.Signals | null>((resolve) => child.on("close", (_code, signal) => resolve(signal)));

    // Killed while it writes, after a few hundred rounds.
    await eventually(() => expect(out.split("\n").filter((l) => l.startsWith("authorized")).length, err).toBeGreaterThanOrEqual(300), 15_000);
    child.kill("SIGKILL");
    expect(await closed).toBe("SIGKILL");

    const acked = (what: string) => Math.max(-1, ...out.split("\n").filter((l) => l.startsWith(what + " ")).map((l) => Number(l.split(" ")[1])));
    const lastAuthorized = acked("authorized");
    const lastFlushed = acked("flushed");
    expect(lastAuthorized).toBeGreaterThanOrEqual(299);
    expect(lastFlushed).toBeGreaterThanOrEqual(6);

    // The log a killed process leaves behind is replayed at the next open.
    const check = new Database(db);
    expect(check.pragma("integrity_check", { simple: true })).toBe("ok");
    check.close();
    const store = new SqliteStore({ path: db });
    cleanups.push(() => store.close());
    const tokens = await store.load();
    const authorizers = await store.authorizers(C1);
    const name = (i: number) => `wxcrash${String(i).padStart(8, "0")}`;
    const missing = { authorizers: [] as number[], tokens: [] as number[] };
    for (let i = 0; i <= lastAuthorized; i++) {
      if (authorizers.get(name(i))?.refreshToken !== `refresh-${i}`) missing.authorizers.push(i);
    }
    for (let i = 0; i <= lastFlushed; i++) if (tokens.get(name(i))?.value !== `access-${i}`) missing.tokens.push(i);
    expect(missing).toEqual({ authorizers: [], tokens: [] });
    expect((await store.ticket(C1))!.createdAt).toBeGreaterThanOrEqual(Date.UTC(2026, 0, 1) + lastAuthorized);
  });
});

/**
 * A write killed between creating its temp file and the rename (SIGKILL, a
 * power cut) leaves `tokens.json.<pid>.tmp` behind, holding live tokens. The
 * server removes such files when it starts, but not one a live process may
 * be writing right now.
 */
import { spawn } from "node:child_process";
import { existsSync, readdirSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { APP, Harness, tempDir } from "../support/harness.js";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** The pid of a process that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
  await new Promise((resolve) => child.once("exit", resolve));
  return child.pid!;
}

/** The pid of a process that keeps running until the test ends. */
function livePid(): number {
  const child = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60_000)"], { stdio: "ignore" });
  cleanups.push(() => child.kill("SIGKILL"));
  return child.pid!;
}

describe("file store: temp snapshots of interrupted writes", () => {
  it("are removed at start unless a live process may be writing them", async () => {
    const dir = tempDir();
    const storePath = join(dir, "tokens.json");
    const live = livePid();
    const snapshot = JSON.stringify({ format: 1, tokens: {}, quota: {} });
    const files = {
      dead: `tokens.json.${await deadPid()}.tmp`,
      // A container's previous run had our pid (pid 1 every time).
      ours: `tokens.json.${process.pid}.tmp`,
      liveFresh: `tokens.json.${live}.tmp`,
      liveOld: `tokens.json.${livePid()}.tmp`,
      otherSnapshot: `other.json.${await deadPid()}.tmp`,
      notATemp: "tokens.json.bak",
    };
    for (const name of Object.values(files)) writeFileSync(join(dir, name), snapshot, { mode: 0o600 });
    // A write takes milliseconds: two minutes old is an interrupted one, whatever the pid.
    const twoMinutesAgo = new Date(Date.now() - 120_000);
    utimesSync(join(dir, files.liveOld), twoMinutesAgo, twoMinutesAgo);

    const h = await Harness.start({ storePath });
    cleanups.push(() => h.stop());
    expect(existsSync(join(dir, files.dead))).toBe(false);
    expect(existsSync(join(dir, files.ours))).toBe(false);
    expect(existsSync(join(dir, files.liveOld))).toBe(false);
    expect(existsSync(join(dir, files.liveFresh))).toBe(true);
    expect(existsSync(join(dir, files.otherSnapshot))).toBe(true);
    expect(existsSync(join(dir, files.notATemp))).toBe(true);
    expect(h.logs.text()).toMatch(/removed temp snapshots left by interrupted writes/);

    // The store works as before: the snapshot is written, no temp file of ours is left.
    await h.getToken(APP);
    await h.server.store.flush();
    expect(readdirSync(dir).sort()).toEqual([files.liveFresh, files.notATemp, files.otherSnapshot, "tokens.json"].sort());
  });
});

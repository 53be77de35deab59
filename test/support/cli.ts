/**
 * The command line as a user runs it: `node .../dist/src/cli/main.js ...` in
 * its own process, from the build made once for the whole run (build.ts).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, expect, inject } from "vitest";
import { eventually, tempDir } from "./harness.js";

export { freePort } from "./harness.js";

export interface Running {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
}

export interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Starts and runs CLI commands; kill() ends whatever is still running (call it in afterEach). */
export class Cli {
  readonly #children: ChildProcess[] = [];

  constructor(readonly path: string) {}

  /** A long-running command (serve, demo, watch...). */
  start(args: string[], env: NodeJS.ProcessEnv = {}): Running {
    return this.track(spawn(process.execPath, [this.path, ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] }));
  }

  /** Another program, through sh (a documented curl line), killed with the rest. */
  spawnShell(line: string): Running {
    return this.track(spawn("sh", ["-c", `exec ${line}`], { stdio: ["ignore", "pipe", "pipe"] }));
  }

  private track(child: ChildProcess): Running {
    this.#children.push(child);
    let out = "";
    let err = "";
    child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
    // 'close', not 'exit': by then all of the output has been read.
    const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
    return { child, stdout: () => out, stderr: () => err, exited };
  }

  /** A command that finishes by itself; a command still running after timeoutMs is killed (code null). */
  async run(args: string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<Finished> {
    const running = this.start(args, options.env);
    const timer = setTimeout(() => running.child.kill("SIGKILL"), options.timeoutMs ?? 10_000);
    const code = await running.exited;
    clearTimeout(timer);
    return { code, stdout: running.stdout(), stderr: running.stderr() };
  }

  /** `serve --config FILE` with this config (written to a temp dir unless `dir` is given), once it is listening. */
  async serve(config: object, options: { env?: NodeJS.ProcessEnv; dir?: string } = {}): Promise<Running & { config: string }> {
    const path = join(options.dir ?? tempDir(), "wxtoken.json");
    writeFileSync(path, JSON.stringify(config));
    const server = this.start(["serve", "--config", path], options.env);
    await eventually(() => expect(server.stderr()).toMatch(/wxtoken listening/), 10_000);
    return { ...server, config: path };
  }

  kill(): void {
    for (const c of this.#children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  }
}

export interface CliFixture {
  /** The CLI of the run's build. */
  readonly cli: Cli;
  /** Runs fn after the current test, once its processes are killed; the last deferred runs first. */
  defer(fn: () => unknown): void;
}

/** For a test file that runs the CLI: cleans up after each test. */
export function useCli(): CliFixture {
  const cli = new Cli(inject("build").cli);
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    cli.kill();
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  return { cli, defer: (fn) => void cleanups.push(fn) };
}

/** The first capture of `pattern` in what a process has printed, once it appears. */
export async function printed(from: () => string, pattern: RegExp): Promise<string> {
  let found: string | undefined;
  await eventually(() => {
    found = pattern.exec(from())?.[1];
    expect(found).toBeDefined();
  }, 10_000);
  return found!;
}

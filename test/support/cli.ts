/**
 * The command line as a user runs it: `node .../dist/src/cli/main.js ...` in
 * its own process. Each test file compiles its own copy of the package into a
 * temp dir, so files running side by side (and the working tree's dist/) never
 * see each other's half-written output.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { copyFileSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterEach, beforeAll, expect } from "vitest";
import { eventually, tempDir } from "./harness.js";

const execFileAsync = promisify(execFile);

export interface Build {
  /** A package root: package.json, dist/, and node_modules linked to the project's. */
  root: string;
  /** dist/src/cli/main.js in it. */
  cli: string;
}

/** Compiles the project into a fresh temp package (a few seconds: call it from beforeAll with a long timeout). */
export async function buildPackage(): Promise<Build> {
  const root = tempDir();
  const project = process.cwd();
  copyFileSync(join(project, "package.json"), join(root, "package.json"));
  symlinkSync(join(project, "node_modules"), join(root, "node_modules"), "dir");
  await execFileAsync(join(project, "node_modules/.bin/tsc"), ["-p", join(project, "tsconfig.json"), "--outDir", join(root, "dist")]);
  return { root, cli: join(root, "dist/src/cli/main.js") };
}

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
    const child = spawn(process.execPath, [this.path, ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
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

/** A loopback port that was free a moment ago, for a command that must be told its port. */
export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface CliFixture {
  /** The CLI of this file's build (from the first test on). */
  readonly cli: Cli;
  /** Runs fn after the current test, once its processes are killed; the last deferred runs first. */
  defer(fn: () => unknown): void;
}

/** For a test file that runs the CLI: builds it once before the tests, and cleans up after each. */
export function useCli(): CliFixture {
  let cli: Cli | undefined;
  const cleanups: (() => unknown)[] = [];
  beforeAll(async () => {
    cli = new Cli((await buildPackage()).cli);
  }, 60_000);
  afterEach(async () => {
    cli?.kill();
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  return {
    get cli(): Cli {
      if (!cli) throw new Error("the CLI is built in beforeAll: use it inside a test");
      return cli;
    },
    defer: (fn) => void cleanups.push(fn),
  };
}

/**
 * Redis for tests: the machine's shared server (127.0.0.1:6379, or
 * WXTOKEN_TEST_REDIS) with a key prefix of each test's own, or a redis-server
 * of a test's own on a free port, to kill and restart.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { freePort, tempDir } from "./harness.js";

export const SHARED_REDIS_URL = process.env.WXTOKEN_TEST_REDIS ?? "redis://127.0.0.1:6379";

/** A prefix no other test uses, so tests can share one Redis. */
export function uniquePrefix(): string {
  return `wxtoken-test-${randomUUID()}:`;
}

/** Deletes every key under prefix. */
export async function dropPrefix(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 500);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== "0");
  } finally {
    redis.disconnect();
  }
}

/** A redis-server of the test's own (nothing on disk), which the test may kill and start again on the same port. */
export class OwnRedis {
  private proc: ChildProcess | undefined;

  private constructor(
    readonly port: number,
    /** More redis-server arguments: --replicaof, or a config file and --sentinel. */
    private readonly args: string[],
  ) {}

  static async start(args: string[] = [], port?: number): Promise<OwnRedis> {
    const r = new OwnRedis(port ?? (await freePort()), args);
    await r.start();
    return r;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    // A config file (sentinel mode) must come first.
    const [file, rest] = this.args[0]?.endsWith(".conf") ? [[this.args[0]], this.args.slice(1)] : [[], this.args];
    // --dir: a replica writes the RDB of a full sync to disk, and not into the working tree.
    const base = ["--port", String(this.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", tempDir()];
    const proc = spawn("redis-server", [...file, ...base, ...rest], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.proc = proc;
    await new Promise<void>((resolve, reject) => {
      let out = "";
      const onData = (chunk: Buffer) => {
        out += chunk.toString();
        // "Sentinel ID is" for a sentinel, which prints no "Ready".
        if (/Ready to accept connections|Sentinel ID is/.test(out)) resolve();
      };
      proc.stdout?.on("data", onData);
      proc.once("exit", (code) => reject(new Error(`redis-server exited (${code}): ${out}`)));
      proc.once("error", reject);
    });
  }

  /** SIGSTOP: a frozen server (a VM paused, a long fork): connections stay open, nothing is answered. */
  pause(): void {
    this.proc?.kill("SIGSTOP");
  }

  /** SIGCONT: the frozen server runs what its clients sent meanwhile. */
  resume(): void {
    this.proc?.kill("SIGCONT");
  }

  /** SIGKILL: what a crash looks like to the clients. */
  async kill(): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null) return;
    const exited = new Promise((resolve) => proc.once("exit", resolve));
    proc.kill("SIGKILL");
    await exited;
    this.proc = undefined;
  }
}

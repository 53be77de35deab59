/**
 * Redis as operators run it for failover: a master, two replicas and
 * sentinels, each a redis-server of the test's own on a free port (sentinel
 * mode is the same binary with --sentinel). Polls, never sleeps blindly.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Redis } from "ioredis";
import { eventually, tempDir } from "./harness.js";
import { OwnRedis } from "./redis.js";

export const MASTER_NAME = "wxtoken-test";

/** Full syncs at once, not after the default 5 s wait for more replicas. */
const QUICK_SYNC = ["--repl-diskless-sync-delay", "0"];

export class SentinelGroup {
  private constructor(
    /** The first master, then its replicas. */
    readonly servers: OwnRedis[],
    readonly sentinels: OwnRedis[],
  ) {}

  /**
   * A master, two replicas of it, and `n` sentinels watching them (quorum 1,
   * quick to act). The first master is never promoted back (replica-priority
   * 0): Sentinel demotes it only about 10 s after a switch, and the tests need
   * not wait for that.
   */
  static async start(n = 1): Promise<SentinelGroup> {
    const master = await OwnRedis.start([...QUICK_SYNC, "--replica-priority", "0"]);
    const replicas = [await OwnRedis.start([...QUICK_SYNC, "--replicaof", "127.0.0.1", String(master.port)]), await OwnRedis.start([...QUICK_SYNC, "--replicaof", "127.0.0.1", String(master.port)])];
    const group = new SentinelGroup([master, ...replicas], []);
    for (let i = 0; i < n; i++) {
      // Sentinel rewrites its config file, so each gets a writable one of its own.
      const conf = join(tempDir(), "sentinel.conf");
      writeFileSync(
        conf,
        [
          `sentinel monitor ${MASTER_NAME} 127.0.0.1 ${master.port} 1`,
          `sentinel down-after-milliseconds ${MASTER_NAME} 1000`,
          `sentinel failover-timeout ${MASTER_NAME} 2000`,
          "",
        ].join("\n"),
      );
      group.sentinels.push(await OwnRedis.start([conf, "--sentinel"]));
    }
    return group;
  }

  /** "host:port" of each sentinel, as the config takes them. */
  get addresses(): string[] {
    return this.sentinels.map((s) => `127.0.0.1:${s.port}`);
  }

  /** The server the sentinels name master. */
  async master(): Promise<OwnRedis> {
    const [, port] = (await this.ask((s) => s.call("SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER_NAME))) as [string, string];
    return this.servers.find((s) => s.port === Number(port))!;
  }

  /** A failover ordered from a sentinel, as an operator does for maintenance; resolves with the new master. */
  async failover(): Promise<OwnRedis> {
    const before = await this.master();
    // Refused (NOGOODSLAVE) until a sentinel sees a healthy replica.
    await eventually(async () => void (await this.ask((s) => s.call("SENTINEL", "FAILOVER", MASTER_NAME))), 20_000);
    return this.switchedFrom(before);
  }

  /** Waits until the sentinels name another master than `old` and it acts as one; returns it. */
  async switchedFrom(old: OwnRedis): Promise<OwnRedis> {
    let master: OwnRedis | undefined;
    await eventually(async () => {
      master = await this.master();
      if (master === old) throw new Error("no new master yet");
      const [role] = (await this.on(master.port, (r) => r.call("ROLE"))) as [string];
      if (role !== "master") throw new Error(`the new master is still a ${role}`);
    }, 20_000);
    return master!;
  }

  /** How many connections named "wxtoken" (the Redis store's) a server has. */
  async wxtokenClients(server: OwnRedis): Promise<number> {
    const list = (await this.on(server.port, (r) => r.call("CLIENT", "LIST"))) as string;
    return list.split("\n").filter((line) => / name=wxtoken /.test(line)).length;
  }

  /** The value of key on one server (a replica, to see what it has been sent). */
  get(server: OwnRedis, key: string): Promise<string | null> {
    return this.on(server.port, (r) => r.get(key));
  }

  async stop(): Promise<void> {
    for (const s of [...this.sentinels, ...this.servers]) await s.kill();
  }

  /** Runs fn on the first sentinel that answers. */
  private async ask<T>(fn: (r: Redis) => Promise<T>): Promise<T> {
    let last: unknown;
    for (const s of this.sentinels) {
      try {
        return await this.on(s.port, fn);
      } catch (err) {
        last = err;
      }
    }
    throw last;
  }

  private async on<T>(port: number, fn: (r: Redis) => Promise<T>): Promise<T> {
    const r = new Redis({ port, host: "127.0.0.1", lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    r.on("error", () => undefined);
    try {
      await r.connect();
      return await fn(r);
    } finally {
      r.disconnect();
    }
  }
}

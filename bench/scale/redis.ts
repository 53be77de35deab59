/**
 * Redis as the scale bench sees it: commands processed (INFO stats
 * total_commands_processed, which counts every client of that Redis: the
 * bench measures the background rate first and prints it) and the cleanup of
 * its own key prefix.
 */
import { Redis } from "ioredis";
import { sleep } from "../support/stats.js";

export class RedisWatch {
  private readonly redis: Redis;

  constructor(url: string) {
    this.redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: false });
  }

  /** Whether Redis answers; the reason when not. */
  async connect(): Promise<string | undefined> {
    try {
      await this.redis.connect();
      await this.redis.ping();
      return undefined;
    } catch (err) {
      return (err as Error).message;
    }
  }

  async commandsProcessed(): Promise<number> {
    const info = await this.redis.info("stats");
    const m = /^total_commands_processed:(\d+)/m.exec(info);
    if (!m) throw new Error("INFO stats has no total_commands_processed");
    return Number(m[1]);
  }

  /**
   * Commands per second, sampled every second for `seconds` (or until
   * `stop()` says so): the average and the busiest one-second sample. The
   * bench's own INFO call counts as one command a second.
   */
  async rate(seconds: number, stop: () => Promise<boolean> = async () => false): Promise<{ average: number; peak: number; seconds: number }> {
    let last = await this.commandsProcessed();
    let lastAt = Date.now();
    const first = { count: last, at: lastAt };
    let peak = 0;
    for (let i = 0; i < seconds; i++) {
      await sleep(1000);
      const count = await this.commandsProcessed();
      const at = Date.now();
      peak = Math.max(peak, ((count - last) * 1000) / (at - lastAt));
      last = count;
      lastAt = at;
      if (await stop()) break;
    }
    const elapsed = (lastAt - first.at) / 1000;
    return { average: (last - first.count) / elapsed, peak, seconds: elapsed };
  }

  /** Deletes every key under the prefix (the bench's own). */
  async dropPrefix(prefix: string): Promise<number> {
    let dropped = 0;
    let cursor = "0";
    do {
      const [next, keys] = await this.redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
      cursor = next;
      if (keys.length > 0) dropped += await this.redis.unlink(...keys);
    } while (cursor !== "0");
    return dropped;
  }

  close(): void {
    this.redis.disconnect();
  }
}

/**
 * How replicas tell each other of changes: Redis pub/sub channels under the
 * key prefix, <prefix>tokens (each new token's JSON, published by the script
 * that stores it: redis-tokens.ts) and <prefix>platform (a PlatformChange
 * note: redis-platform.ts). Pub/sub keeps nothing for a replica that could
 * not hear it, so the subscriber subscribes again on every (re)connect and
 * then the store catches up by reading what it may have missed.
 */
import type { Redis } from "ioredis";
import { parsed } from "./parsed.js";

/** One channel: its key, how its messages are read, and who listens. */
export class RedisChannel<T> {
  private readonly listeners = new Set<(value: T) => void>();

  constructor(
    readonly key: string,
    private readonly decode: (v: unknown) => T | undefined,
  ) {}

  on(listener: (value: T) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Tells every listener (a message, or what a catch-up read). */
  emit(value: T): void {
    for (const listener of [...this.listeners]) listener(value);
  }

  /** A message as published: one that cannot be read is dropped. */
  deliver(message: string): void {
    const value = parsed(message, this.decode);
    if (value !== undefined) this.emit(value);
  }
}

/** Subscribes `sub` to the channels on every (re)connect, then calls caughtUp to read what was published meanwhile. */
export function subscribeChannels(sub: Redis, channels: readonly Pick<RedisChannel<unknown>, "key" | "deliver">[], caughtUp: () => unknown): void {
  const byKey = new Map(channels.map((c) => [c.key, c]));
  sub.on("message", (channel: string, message: string) => byKey.get(channel)?.deliver(message));
  sub.on("ready", () => {
    sub.subscribe(...byKey.keys()).then(() => caughtUp(), () => undefined);
  });
}

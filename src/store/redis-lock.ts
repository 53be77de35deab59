/**
 * The refresh lock in Redis: <prefix>lock:<credential key> holds a lease id
 * with a TTL, so that one replica at a time calls WeChat for a credential
 * (src/core/coordinator.ts says why). A holder that dies leaves a lock that
 * expires by itself; a lock we may hold without knowing it (an attempt that
 * timed out, a release that failed) is released as soon as Redis answers,
 * rather than blocking the others for a whole lease.
 */
import { randomUUID } from "node:crypto";
import { CoordinationError } from "../core/coordinator.js";
import type { RedisClients } from "./redis-clients.js";

/** Releases a lock only if it is still ours (it may have expired and been taken by another replica). */
const RELEASE_LOCK = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;

export interface RedisLockOptions {
  /** How long a refresh lock lives if its holder dies: longer than an upstream call may take. */
  lockLeaseMs: number;
  /** How long to wait for another replica's lock before giving up (default lease + 2 s). */
  lockWaitMs?: number;
}

export class RedisLock {
  /** Locks we may hold without knowing it (lease -> lock key): an attempt that timed out, a release that failed. */
  private readonly unreleased = new Map<string, string>();
  private readonly releasing = new Set<string>();

  constructor(
    private readonly clients: RedisClients,
    private readonly opts: RedisLockOptions,
  ) {}

  /** Runs fn while this replica holds the credential's lock; waits while another replica holds it. */
  async withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const { redis, log } = this.clients;
    const lockKey = this.clients.key("lock", key);
    const lease = randomUUID();
    const waitMs = this.opts.lockWaitMs ?? this.opts.lockLeaseMs + 2000;
    const deadline = Date.now() + waitMs;
    this.releaseUnreleased();
    for (;;) {
      // Only a command written to the socket can still run later.
      const sent = redis.status === "ready";
      const taken = await this.clients.command(() => redis.set(lockKey, lease, "PX", this.opts.lockLeaseMs, "NX")).catch((err: unknown) => {
        // A frozen Redis runs the SET when it resumes, taking the lock for a
        // whole lease with nobody holding it: release it as soon as it can be.
        if (sent) this.unreleased.set(lease, lockKey);
        this.releaseUnreleased();
        throw err;
      });
      if (taken === "OK") break;
      if (Date.now() >= deadline) {
        throw new CoordinationError(`another replica held the refresh lock of ${key} for over ${waitMs} ms`);
      }
      // Real time on purpose: the lease in Redis runs on real time too.
      await new Promise((resolve) => setTimeout(resolve, 40 + Math.random() * 80));
    }
    try {
      return await fn();
    } finally {
      // Queued after fn's writes on the same connection, so the next holder sees them.
      await redis.eval(RELEASE_LOCK, 1, lockKey, lease).catch((err: Error) => {
        this.unreleased.set(lease, lockKey);
        log.warn({ credential: key, err: this.clients.scrub(err.message) }, "could not release the refresh lock; retrying once Redis answers (it expires by itself otherwise)");
      });
    }
  }

  /**
   * Releases every lock we may hold unknowingly, if it still holds our lease.
   * Sent on the connection that carried the SET, the release runs after it,
   * so a lease is forgotten once a release has been answered.
   */
  releaseUnreleased(): void {
    const { redis, log } = this.clients;
    for (const [lease, lockKey] of this.unreleased) {
      if (this.releasing.has(lease) || redis.status !== "ready") continue;
      this.releasing.add(lease);
      redis
        .eval(RELEASE_LOCK, 1, lockKey, lease)
        .then(
          (released) => {
            this.unreleased.delete(lease);
            if (released === 1) log.info({ lock: lockKey }, "released a refresh lock taken by an attempt that had given up");
          },
          () => undefined,
        )
        .finally(() => this.releasing.delete(lease));
    }
  }
}

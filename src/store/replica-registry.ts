/**
 * The live replicas of a cluster on Redis, and which of them refreshes which
 * credential (Ownership, src/core/ownership.ts).
 *
 * Each replica keeps an entry in the sorted set <prefix>replicas: its id,
 * scored with the time of its latest heartbeat. Every lease/3 it writes its
 * score and reads the entries scored within the last lease, in one script
 * (one command on the wire). A replica that dies stops writing; the others
 * leave it out once its score is a lease old, at their next heartbeat, so its
 * share is taken over at most one lease after its first missed heartbeat. A
 * replica that stops cleanly deletes its entry, so the others take over at
 * their next heartbeat (within lease/3). Entries older than a few leases are
 * deleted by whichever replica beats next, so crashed replicas do not pile up.
 *
 * Times are each replica's own clock: the replicas' clocks must agree within
 * about two thirds of a lease (10 s at the default 15 s). A replica whose
 * clock is behind by more looks dead to the others although it beats (its
 * keys are then refreshed twice over, still one upstream call each under the
 * lock); one ahead looks alive that much longer after it dies. NTP keeps
 * clocks within milliseconds. Redis's own clock would avoid the assumption,
 * but times come from the injected Clock so that tests run on a FakeClock.
 *
 * While Redis is unreachable the last live set known is kept: refreshes need
 * the Redis lock anyway, so nothing is refreshed twice meanwhile.
 */
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { Redis } from "ioredis";
import { systemClock, type Clock, type TimerHandle } from "../clock.js";
import type { Logger } from "../log.js";
import { rendezvous, type Ownership } from "../core/ownership.js";

export const DEFAULT_REPLICA_LEASE_MS = 15_000;

/** Entries this many leases old are deleted: a slow clock or a long pause is not forgotten at once, crashed replicas are. */
const PRUNE_AFTER_LEASES = 4;

/**
 * One heartbeat: KEYS[1] the set; ARGV id, now, live-after, prune-before.
 * Returns whether the entry was new (a first registration, or one the others
 * had pruned or Redis had lost) and the live ids.
 */
const HEARTBEAT = `
local added = redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[4])
return {added, redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[3], '+inf')}`;

export interface ReplicaRegistryOptions {
  /** The connection to use (the Redis store's): commands fail at once while it is down. */
  redis: Redis;
  keyPrefix: string;
  /** This replica's id, unique in the cluster. Default: hostname-pid-random. */
  id?: string;
  /** How long a replica stays live after its latest heartbeat (default 15 s); heartbeats every lease/3. */
  leaseMs?: number;
  clock?: Clock;
  log: Logger;
  /** Removes secrets from a Redis error message before it is logged. */
  scrub?: (message: string) => string;
}

export class ReplicaRegistry implements Ownership {
  readonly id: string;
  readonly leaseMs: number;
  private readonly redis: Redis;
  private readonly setKey: string;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly scrub: (message: string) => string;
  /** Sorted live ids; this replica alone until Redis has answered. */
  private members: readonly string[];
  private owner: (key: string) => string | undefined;
  private readonly listeners = new Set<() => void>();
  private readonly beats = new Set<Promise<void>>();
  private timer: TimerHandle | undefined;
  private running = false;
  /** Whether a heartbeat failure has been logged since the last answer. */
  private failing = false;
  /** Time of the latest heartbeat Redis answered (this replica's clock). */
  private lastBeatAt: number | undefined;

  constructor(opts: ReplicaRegistryOptions) {
    this.redis = opts.redis;
    this.id = opts.id ?? `${hostname()}-${process.pid}-${randomBytes(3).toString("hex")}`;
    this.leaseMs = opts.leaseMs ?? DEFAULT_REPLICA_LEASE_MS;
    if (!(this.leaseMs >= 3)) throw new RangeError(`replica lease of ${this.leaseMs} ms is too short`);
    this.setKey = `${opts.keyPrefix}replicas`;
    this.clock = opts.clock ?? systemClock;
    this.log = opts.log.child({ replica: this.id });
    this.scrub = opts.scrub ?? ((m) => m);
    this.members = [this.id];
    this.owner = rendezvous(this.members);
  }

  /** Registers (the first heartbeat is awaited, and fails quietly while Redis is down) and heartbeats every lease/3 until stop(). */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.schedule();
    await this.beat();
  }

  /** No more heartbeats, and the entry is deleted so that the others take over at their next heartbeat rather than after a lease. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    // A heartbeat answered after the ZREM would register this replica again.
    await this.settled();
    try {
      await this.redis.zrem(this.setKey, this.id);
      this.log.info("left the replica set");
    } catch (err) {
      this.log.warn({ err: this.scrub((err as Error).message) }, "could not leave the replica set; the others take over its share when its lease lapses");
    }
  }

  owns(key: string): boolean {
    return this.owner(key) === this.id;
  }

  liveCount(): number {
    return this.members.length;
  }

  /** The live replicas' ids, sorted. */
  live(): readonly string[] {
    return this.members;
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves once every heartbeat sent so far has been answered (or has failed). */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.beats]);
  }

  /** At a fixed rate from start(), not from each answer: a slow answer does not stretch the interval. */
  private schedule(): void {
    this.timer = this.clock.setTimeout(() => {
      if (!this.running) return;
      this.schedule();
      void this.beat();
    }, this.leaseMs / 3);
  }

  private beat(): Promise<void> {
    const now = this.clock.now();
    const sent = this.redis.eval(HEARTBEAT, 1, this.setKey, this.id, now, now - this.leaseMs, now - PRUNE_AFTER_LEASES * this.leaseMs);
    // Answers come in order on one connection, so the latest applied is the latest read.
    const p = sent.then(
      (reply) => this.heard(reply, now),
      (err: Error) => this.unheard(err),
    );
    this.beats.add(p);
    void p.finally(() => this.beats.delete(p));
    return p;
  }

  private heard(reply: unknown, now: number): void {
    if (!this.running) return;
    const [added, ids] = reply as [number, string[]];
    if (this.failing) this.log.info("replica heartbeat answered again");
    this.failing = false;
    if (this.lastBeatAt === undefined) {
      this.log.info({ leaseMs: this.leaseMs, live: ids.length }, "joined the replica set");
    } else if (added === 1 || now - this.lastBeatAt >= this.leaseMs) {
      // The others took over this replica's share meanwhile; they hand it back at their next heartbeat.
      this.log.warn({ lapsedMs: now - this.lastBeatAt }, "re-registered in the replica set after its heartbeats lapsed");
    }
    this.lastBeatAt = now;
    this.update(ids.includes(this.id) ? ids : [...ids, this.id]);
  }

  private unheard(err: Error): void {
    if (this.failing || !this.running) return;
    this.failing = true;
    this.log.warn(
      { err: this.scrub(err.message), live: this.members.length },
      "replica heartbeat failed; keeping the last live set known until Redis answers",
    );
  }

  private update(ids: readonly string[]): void {
    const next = [...ids].sort();
    const prev = this.members;
    if (next.length === prev.length && next.every((id, i) => id === prev[i])) return;
    this.members = next;
    this.owner = rendezvous(next);
    const joined = next.filter((id) => !prev.includes(id));
    const left = prev.filter((id) => !next.includes(id));
    this.log.info({ live: next.length, joined, left }, "live replicas changed");
    for (const listener of [...this.listeners]) {
      try {
        listener();
      } catch (err) {
        this.log.error({ err: (err as Error).message }, "a replica-change listener threw");
      }
    }
  }
}

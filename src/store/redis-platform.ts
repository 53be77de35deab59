/**
 * The platforms' records in Redis (PlatformStore; <component> is the platform
 * id, a component appid or a suite id), read from Redis every time and
 * written with awaited scripts (redis-platform-scripts.ts):
 * <prefix>platform:<component>:ticket (with a TTL derived from the ticket's
 * own life: until an hour past its expiresAt), the hash
 * platform:<component>:authorizers (appid or corpid -> JSON StoredAuthorizer,
 * no TTL: refresh tokens and permanent codes never expire), the hash
 * platform:<component>:deauthorized (appid -> ms of its latest
 * de-authorization), the hash platform:<component>:pending (code -> JSON
 * PendingCode, no TTL: kept until exchanged), platform:<component>:claim:<what>
 * (SET NX with a TTL), platform:<component>:code:<digest> (what a redirect's
 * authorization code was exchanged for, with the code's own life as TTL), and
 * a PlatformChange note on the channel <prefix>platform for each change to a
 * ticket or an authorizer, so a push any replica receives is served by all.
 * Nothing else is ever given a TTL.
 */
import { CoordinationError } from "../core/coordinator.js";
import {
  byReceipt,
  toCodeOutcome,
  toPendingCode,
  toStoredAuthorizer,
  toStoredTicket,
  type AuthorizerChange,
  type CodeOutcome,
  type PendingCode,
  type PlatformChange,
  type PlatformStore,
  type RemoveOutcome,
  type RepairedTimes,
  type StoredAuthorizer,
  type StoredTicket,
} from "../platform/store.js";
import { hashEntries, hashFields, saveAuthorizerBatch } from "./redis-batch.js";
import { parsed } from "./parsed.js";
import type { RedisClients } from "./redis-clients.js";
import { RedisChannel } from "./redis-pubsub.js";
import { REMOVE_AUTHORIZER, REPAIR_FUTURE_TIMES, SAVE_AUTHORIZER, SAVE_TICKET, UPDATE_AUTHORIZER } from "./redis-platform-scripts.js";

export class RedisPlatforms implements PlatformStore {
  /** Each change any replica made (this one included). */
  readonly channel: RedisChannel<PlatformChange>;
  /** Components asked about, for the catch-up after a reconnect. */
  private readonly components = new Set<string>();

  constructor(private readonly clients: RedisClients) {
    this.channel = new RedisChannel(clients.key("platform"), toPlatformChange);
  }

  private key(component: string, ...parts: string[]): string {
    return this.clients.key("platform", component, ...parts);
  }

  private command<T>(run: () => Promise<T>): Promise<T> {
    return this.clients.command(run);
  }

  async ticket(component: string): Promise<StoredTicket | undefined> {
    this.components.add(component);
    return parsed(await this.command(() => this.clients.redis.get(this.key(component, "ticket"))), toStoredTicket);
  }

  async saveTicket(component: string, ticket: StoredTicket): Promise<boolean> {
    this.components.add(component);
    const change = JSON.stringify({ component, what: "ticket" } satisfies PlatformChange);
    // Kept an hour past its expiry (never cut before it: 12 hours and 1 for a component_verify_ticket,
    // 30 minutes and 1 hour for a suite_ticket), so ListAuthorizers can still say when the last one expired.
    // Relative to its receipt (our clock), not an absolute time on Redis's clock.
    const keepUntil = Math.max(1, Math.round(ticket.expiresAt - ticket.receivedAt + 3600_000));
    const saved = await this.command(() =>
      this.clients.redis.eval(SAVE_TICKET, 2, this.key(component, "ticket"), this.channel.key, JSON.stringify(ticket), ticket.createdAt, keepUntil, change),
    );
    return saved === 1;
  }

  async authorizers(component: string): Promise<Map<string, StoredAuthorizer>> {
    this.components.add(component);
    return authorizersIn(await this.command(() => hashEntries(this.clients.redis, this.key(component, "authorizers"))));
  }

  async authorizersOf(component: string, appIds: readonly string[]): Promise<Map<string, StoredAuthorizer>> {
    this.components.add(component);
    return authorizersIn(await this.command(() => hashFields(this.clients.redis, this.key(component, "authorizers"), appIds)));
  }

  async authorizer(component: string, appId: string): Promise<StoredAuthorizer | undefined> {
    this.components.add(component);
    return parsed(await this.command(() => this.clients.redis.hget(this.key(component, "authorizers"), appId)), toStoredAuthorizer);
  }

  async saveAuthorizer(component: string, authorizer: StoredAuthorizer): Promise<boolean> {
    this.components.add(component);
    const change = JSON.stringify({ component, what: "authorizer", appId: authorizer.appId } satisfies PlatformChange);
    const saved = await this.command(() =>
      this.clients.redis.eval(
        SAVE_AUTHORIZER,
        3,
        this.key(component, "authorizers"),
        this.channel.key,
        this.key(component, "deauthorized"),
        authorizer.appId,
        JSON.stringify(authorizer),
        change,
        authorizer.authorizedAt,
      ),
    );
    return saved === 1;
  }

  /** saveAuthorizer's script for each record, one script call per chunk in one pipeline, then one note for the batch. */
  async saveAuthorizers(component: string, records: readonly StoredAuthorizer[]): Promise<boolean[]> {
    this.components.add(component);
    if (records.length === 0) return [];
    const { stored, failed } = await this.command(() =>
      saveAuthorizerBatch(this.clients.redis, {
        authorizersKey: this.key(component, "authorizers"),
        deauthorizedKey: this.key(component, "deauthorized"),
        records: records.map((a) => ({ appId: a.appId, json: JSON.stringify(a), authorizedAt: a.authorizedAt })),
      }),
    );
    const appIds = [...new Set(records.filter((_, i) => stored[i]).map((a) => a.appId))];
    // Every replica reloads these accounts (one HMGET), not the whole platform.
    const note = JSON.stringify({ component, what: "authorizers", appIds } satisfies PlatformChange);
    if (appIds.length > 0) await this.command(() => this.clients.redis.publish(this.channel.key, note));
    // What was stored stays (the caller's retry is taken again: the same authorization is not older).
    if (failed) throw new CoordinationError(`shared store ${this.clients.where}: a batch of authorizers was stored in part: ${this.clients.scrub(failed.message)}`);
    return stored;
  }

  async updateAuthorizer(component: string, appId: string, expected: string, change: AuthorizerChange): Promise<boolean> {
    const note = JSON.stringify({ component, what: "authorizer", appId } satisfies PlatformChange);
    const done = await this.command(() =>
      this.clients.redis.eval(UPDATE_AUTHORIZER, 2, this.key(component, "authorizers"), this.channel.key, appId, expected, JSON.stringify(change), note),
    );
    return done === 1;
  }

  async removeAuthorizer(component: string, appId: string, at: number, credentialKeys: readonly string[]): Promise<RemoveOutcome> {
    const note = JSON.stringify({ component, what: "authorizer", appId } satisfies PlatformChange);
    const tokens = credentialKeys.map((k) => this.clients.key("token", k));
    const done = await this.command(() =>
      this.clients.redis.eval(
        REMOVE_AUTHORIZER,
        3 + tokens.length,
        this.key(component, "authorizers"),
        this.channel.key,
        this.key(component, "deauthorized"),
        ...tokens,
        appId,
        at,
        note,
      ),
    );
    return done === 1 ? "removed" : done === -1 ? "newer_held" : "not_held";
  }

  async claim(component: string, what: string, ttlMs: number): Promise<boolean> {
    const taken = await this.command(() => this.clients.redis.set(this.key(component, "claim", what), "1", "PX", Math.max(1, Math.round(ttlMs)), "NX"));
    return taken === "OK";
  }

  async repairFutureTimes(component: string, notAfter: number, now: number): Promise<RepairedTimes> {
    this.components.add(component);
    const change = JSON.stringify({ component, what: "all" } satisfies PlatformChange);
    const [ticket, authorized, deauthorized] = (await this.command(() =>
      this.clients.redis.eval(
        REPAIR_FUTURE_TIMES,
        4,
        this.key(component, "ticket"),
        this.key(component, "authorizers"),
        this.key(component, "deauthorized"),
        this.channel.key,
        Math.floor(notAfter),
        Math.floor(now),
        change,
      ),
    )) as [number, string[], string[]];
    return { ticket: ticket === 1, authorized, deauthorized };
  }

  /** HSETNX: a resend of a held code changes nothing; no TTL, no note (the platform polls its pending codes). */
  async savePendingCode(component: string, pending: PendingCode): Promise<boolean> {
    this.components.add(component);
    const set = await this.command(() => this.clients.redis.hsetnx(this.key(component, "pending"), pending.code, JSON.stringify(pending)));
    return set === 1;
  }

  async pendingCodes(component: string): Promise<PendingCode[]> {
    this.components.add(component);
    const held = await this.command(() => this.clients.redis.hgetall(this.key(component, "pending")));
    const out: PendingCode[] = [];
    for (const [code, text] of Object.entries(held)) {
      const p = parsed(text, toPendingCode);
      if (p && p.code === code) out.push(p);
    }
    return out.sort(byReceipt);
  }

  async dropPendingCode(component: string, code: string): Promise<void> {
    await this.command(() => this.clients.redis.hdel(this.key(component, "pending"), code));
  }

  async saveCodeOutcome(component: string, digest: string, outcome: CodeOutcome, now: number): Promise<void> {
    const ttlMs = Math.max(1, Math.round(outcome.until - now));
    await this.command(() => this.clients.redis.set(this.key(component, "code", digest), JSON.stringify(outcome), "PX", ttlMs));
  }

  async codeOutcome(component: string, digest: string, now: number): Promise<CodeOutcome | undefined> {
    const o = parsed(await this.command(() => this.clients.redis.get(this.key(component, "code", digest))), toCodeOutcome);
    return o && o.until > now ? o : undefined;
  }

  onPlatformChange(listener: (change: PlatformChange) => void): () => void {
    return this.channel.on(listener);
  }

  /** Every platform asked about reloads everything (what was published while we could not hear it). */
  announce(): void {
    for (const component of this.components) this.channel.emit({ component, what: "all" });
  }
}

function authorizersIn(hash: Map<string, string>): Map<string, StoredAuthorizer> {
  const out = new Map<string, StoredAuthorizer>();
  for (const [appId, text] of hash) {
    const a = parsed(text, toStoredAuthorizer);
    if (a && a.appId === appId) out.set(appId, a);
  }
  return out;
}

/** A note read from the platform channel, or undefined when it is not one. */
function toPlatformChange(v: unknown): PlatformChange | undefined {
  if (typeof v !== "object" || v === null) return undefined;
  const o = v as Record<string, unknown>;
  if (typeof o.component !== "string") return undefined;
  if (o.what === "ticket") return { component: o.component, what: "ticket" };
  if (o.what === "all") return { component: o.component, what: "all" };
  if (o.what === "authorizer" && typeof o.appId === "string") return { component: o.component, what: "authorizer", appId: o.appId };
  if (o.what === "authorizers" && Array.isArray(o.appIds) && o.appIds.every((a) => typeof a === "string")) {
    return { component: o.component, what: "authorizers", appIds: o.appIds as string[] };
  }
  return undefined;
}

/**
 * What an Open Platform (第三方平台) must never lose, and where it is kept: the
 * newest component_verify_ticket (12 hours; without it no component token,
 * so every authorizer goes down) and each authorizer's refresh token (it
 * never expires; losing it means asking the merchant to authorize again).
 *
 * Every store (memory, file, Redis) implements this beside TokenStore, keyed
 * by the component appid (two platforms never share a ticket). Writes resolve
 * only once durable (the file fsynced, Redis answered): the push receiver
 * answers WeChat `success` only after that. Reads of the Redis store go to
 * Redis every time, so replicas always use the newest ticket and refresh token.
 */

/** A component_verify_ticket as pushed. Times are ms since the epoch. */
export interface StoredTicket {
  value: string;
  /** The push's CreateTime: a push created earlier never replaces a later one. */
  createdAt: number;
  receivedAt: number;
  /** receivedAt + 12 hours: WeChat's stated life. */
  expiresAt: number;
}

/** active: its refresh token works; needs_reauthorization: WeChat refused it (61023) and the merchant must authorize again. */
export type AuthorizerStatus = "active" | "needs_reauthorization";

export const AUTHORIZER_STATUSES: readonly AuthorizerStatus[] = ["active", "needs_reauthorization"];

/** An authorized account of a platform. */
export interface StoredAuthorizer {
  appId: string;
  /** authorizer_refresh_token: never logged, never served. */
  refreshToken: string;
  status: AuthorizerStatus;
  /** When it (last) authorized, ms since the epoch. */
  authorizedAt: number;
  /** When this record last changed, ms since the epoch. */
  updatedAt: number;
}

/**
 * A change made through the store, by any replica (Redis pub/sub) or here.
 * "all": anything may have changed (a replica that was cut off from Redis and is back).
 * "authorizers": the accounts a saveAuthorizers stored, in one note for the batch.
 */
export type PlatformChange =
  | { component: string; what: "ticket" }
  | { component: string; what: "all" }
  | { component: string; what: "authorizer"; appId: string }
  | { component: string; what: "authorizers"; appIds: string[] };

/** removed: it was held and is gone; not_held: nothing was held (the de-authorization is remembered all the same); newer_held: an authorization made after it is held, and stays. */
export type RemoveOutcome = "removed" | "not_held" | "newer_held";

export interface PlatformStore {
  /** The newest ticket, if any is held (expired ones too: the caller checks expiresAt). */
  ticket(component: string): Promise<StoredTicket | undefined>;
  /**
   * Stores the ticket unless one created later is already held. Resolves
   * (true: stored, false: an older push) once durable; rejects when it could not be stored.
   */
  saveTicket(component: string, ticket: StoredTicket): Promise<boolean>;
  /** Every authorizer of the platform, by appid. */
  authorizers(component: string): Promise<Map<string, StoredAuthorizer>>;
  authorizer(component: string, appId: string): Promise<StoredAuthorizer | undefined>;
  /** The ones of `appIds` that are held (one read: HMGET on Redis). */
  authorizersOf(component: string, appIds: readonly string[]): Promise<Map<string, StoredAuthorizer>>;
  /**
   * Adds or replaces the authorizer (an authorization, a recovery); durable
   * when it resolves. Refused (false, nothing stored) when it is older than
   * what the store knows: a de-authorization at or after `authorizedAt`, or a
   * held authorization made later (pushes can arrive out of order, and
   * WeChat retries them).
   */
  saveAuthorizer(component: string, authorizer: StoredAuthorizer): Promise<boolean>;
  /**
   * saveAuthorizer for many (a sync of N accounts): each record under its
   * rules, in order (a later record of the same account sees an earlier
   * one), resolving with whether each was stored, once all are durable; one
   * write (a transaction, one durable snapshot, one script per chunk on
   * Redis) and one "authorizers" change for the batch.
   */
  saveAuthorizers(component: string, records: readonly StoredAuthorizer[]): Promise<boolean[]>;
  /**
   * Atomically changes an authorizer only if its stored refresh token is
   * still `expected` (a re-authorization or a de-authorization meanwhile
   * wins): a rotated refresh token, a new status. Resolves whether it changed.
   */
  updateAuthorizer(
    component: string,
    appId: string,
    expected: string,
    change: { refreshToken?: string; status?: AuthorizerStatus; updatedAt: number },
  ): Promise<boolean>;
  /**
   * A de-authorization whose push was created at `at` (ms since the epoch).
   * Unless an authorization made after `at` is held, it drops the authorizer,
   * its refresh token and the stored tokens under `credentialKeys` (a later
   * authorization must not start from a revoked token), and remembers `at`:
   * saveAuthorizer refuses authorizations made before it.
   */
  removeAuthorizer(component: string, appId: string, at: number, credentialKeys: readonly string[]): Promise<RemoveOutcome>;
  /**
   * A claim every replica sharing the store sees (Redis: SET NX with a TTL):
   * true for the one that may act now (ask WeChat to push a ticket), false
   * while another replica's claim lasts. A store of one process always says true.
   */
  claim(component: string, what: string, ttlMs: number): Promise<boolean>;
  /** Changes made by any replica, this one included: the platform reloads what changed. */
  onPlatformChange(listener: (change: PlatformChange) => void): () => void;
  /**
   * Brings every push time after `notAfter` back to `now`: the ticket's
   * createdAt, each authorizer's authorizedAt (and updatedAt), each
   * de-authorization time. A push time that far ahead was forged or
   * mis-clocked, and every real push after it would count as older and be
   * refused for good. Called by the platform as it loads; resolves with what
   * was changed (nothing, normally), once durable, and tells the listeners
   * ("all") when anything was.
   */
  repairFutureTimes(component: string, notAfter: number, now: number): Promise<RepairedTimes>;
}

/** What repairFutureTimes brought back: whether the ticket, and which accounts' authorization and de-authorization. */
export interface RepairedTimes {
  ticket: boolean;
  authorized: string[];
  deauthorized: string[];
}

export function repairedAnything(r: RepairedTimes): boolean {
  return r.ticket || r.authorized.length > 0 || r.deauthorized.length > 0;
}

export function isPlatformStore(x: object): x is PlatformStore {
  const s = x as Partial<PlatformStore>;
  return typeof s.saveTicket === "function" && typeof s.saveAuthorizer === "function" && typeof s.onPlatformChange === "function";
}

/** A stored ticket read back, or undefined when it is not one. */
export function toStoredTicket(t: unknown): StoredTicket | undefined {
  if (typeof t !== "object" || t === null) return undefined;
  const o = t as Record<string, unknown>;
  const ok =
    typeof o.value === "string" && o.value.length > 0 && Number.isFinite(o.createdAt) && Number.isFinite(o.receivedAt) && Number.isFinite(o.expiresAt);
  return ok ? { value: o.value as string, createdAt: o.createdAt as number, receivedAt: o.receivedAt as number, expiresAt: o.expiresAt as number } : undefined;
}

/** A stored authorizer read back, or undefined when it is not one. */
export function toStoredAuthorizer(a: unknown): StoredAuthorizer | undefined {
  if (typeof a !== "object" || a === null) return undefined;
  const o = a as Record<string, unknown>;
  const ok =
    typeof o.appId === "string" &&
    o.appId.length > 0 &&
    typeof o.refreshToken === "string" &&
    o.refreshToken.length > 0 &&
    AUTHORIZER_STATUSES.includes(o.status as AuthorizerStatus) &&
    Number.isFinite(o.authorizedAt) &&
    Number.isFinite(o.updatedAt);
  if (!ok) return undefined;
  return {
    appId: o.appId as string,
    refreshToken: o.refreshToken as string,
    status: o.status as AuthorizerStatus,
    authorizedAt: o.authorizedAt as number,
    updatedAt: o.updatedAt as number,
  };
}

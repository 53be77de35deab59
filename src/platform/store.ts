/**
 * What a pushed-ticket platform (an Open Platform 第三方平台 or a WeCom suite)
 * must never lose, and where it is kept: the newest pushed ticket
 * (component_verify_ticket, 12 hours; suite_ticket, 30 minutes; without it no
 * platform token, so every tenant goes down), each tenant's long-lived secret
 * (an authorizer's refresh token or a corp's permanent code: it never
 * expires; losing it means the tenant must authorize or install again), and
 * the authorization codes pushed but not yet exchanged.
 *
 * Every store (memory, file, SQLite, Redis) implements this beside
 * TokenStore, keyed by the platform id (the `component` parameter: a
 * component appid or a suite id; two platforms never share a ticket). Writes
 * resolve only once durable (the file fsynced, Redis answered): the push
 * receiver answers WeChat `success` only after that. Nothing holding a
 * long-lived secret or a pending code expires in any store. Reads of the
 * Redis store go to Redis every time, so replicas always use the newest
 * ticket and secret.
 */

/** A pushed ticket (component_verify_ticket, suite_ticket) as received. Times are ms since the epoch. */
export interface StoredTicket {
  value: string;
  /** The push's CreateTime: a push created earlier never replaces a later one. */
  createdAt: number;
  receivedAt: number;
  /** receivedAt + the family's stated life (12 hours for a component_verify_ticket, 30 minutes for a suite_ticket). */
  expiresAt: number;
}

/** active: its refresh token works; needs_reauthorization: WeChat refused it (61023) and the merchant must authorize again. */
export type AuthorizerStatus = "active" | "needs_reauthorization";

export const AUTHORIZER_STATUSES: readonly AuthorizerStatus[] = ["active", "needs_reauthorization"];

/**
 * A tenant of a platform: an authorized account of an Open Platform, or a
 * corp that installed a WeCom suite's app. The field names are those of the
 * Open Platform's first records, kept so that stores written before still read.
 */
export interface StoredAuthorizer {
  /** The authorizer appid, or the corpid. */
  appId: string;
  /** The long-lived secret: authorizer_refresh_token, or the corp's permanent_code. Never logged, never served. */
  refreshToken: string;
  status: AuthorizerStatus;
  /** When it (last) authorized, ms since the epoch. */
  authorizedAt: number;
  /** When this record last changed, ms since the epoch. */
  updatedAt: number;
  /** A WeCom suite's tenant: the agentids of the suite's app in that corp (from its auth info). Absent for an Open Platform authorizer. */
  agents?: readonly string[];
}

/** What updateAuthorizer may change (a field left out keeps its stored value). */
export interface AuthorizerChange {
  /** The rotated secret (a new refresh token, a reset permanent code). */
  refreshToken?: string;
  status?: AuthorizerStatus;
  /** The agentids read again from the auth info (change_auth). */
  agents?: readonly string[];
  updatedAt: number;
}

/**
 * An authorization code WeChat pushed (create_auth; reset_permanent_code for
 * a 代开发 app), kept before the receiver answers `success` and exchanged
 * afterwards, possibly by another replica or after a restart. The code is a
 * secret: never logged.
 */
export interface PendingCode {
  code: string;
  /** The push's InfoType (create_auth, reset_permanent_code). */
  infoType: string;
  /** When it was received, ms since the epoch. */
  receivedAt: number;
  /** The push's CreateTime, ms since the epoch. */
  createdAt: number;
  /** The corp, when the push names one. */
  tenantId?: string;
}

/**
 * What an authorization code handed over by redirect (AuthorizeByCode) was
 * exchanged for, kept while the code lives; or, briefly, that an exchange of
 * it failed (`failed`, tenantId ""): a replica waiting for that exchange's
 * outcome tries the code itself at once.
 */
export interface CodeOutcome {
  /** The authorizer appid or the installed corp's corpid ("" when failed). */
  tenantId: string;
  /** When it authorized, ms since the epoch. */
  authorizedAt: number;
  /** Kept until then (the code's own life), ms since the epoch. */
  until: number;
  failed?: true;
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
   * Atomically changes an authorizer only if its stored secret (refresh
   * token, permanent code) is still `expected` (a re-authorization or a
   * de-authorization meanwhile wins): a rotated secret, a new status, the
   * agents read again. Resolves whether it changed.
   */
  updateAuthorizer(component: string, appId: string, expected: string, change: AuthorizerChange): Promise<boolean>;
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
  /**
   * Keeps a pushed authorization code until dropPendingCode; durable when it
   * resolves (the receiver answers `success` after). False, nothing changed,
   * when this code is already held (WeChat's resend of the same push).
   * Never expires; tells no listener (the platform polls its pending codes).
   */
  savePendingCode(component: string, pending: PendingCode): Promise<boolean>;
  /** The codes held, oldest received first. */
  pendingCodes(component: string): Promise<PendingCode[]>;
  /** Forgets the code (exchanged, or refused for good); durable when it resolves; nothing when it is not held. */
  dropPendingCode(component: string, code: string): Promise<void>;
  /**
   * Remembers what a redirect's authorization code was exchanged for, by the
   * code's digest (never the code), until `outcome.until`: the same code
   * handed to another replica, or after a restart, answers the same tenant
   * instead of WeChat's "code already used". Outcomes past their time are
   * dropped as new ones come (Redis: a TTL).
   */
  saveCodeOutcome(component: string, digest: string, outcome: CodeOutcome, now: number): Promise<void>;
  /** The outcome kept for a code's digest, if still kept at `now`. */
  codeOutcome(component: string, digest: string, now: number): Promise<CodeOutcome | undefined>;
}

/** A CodeOutcome read back, or undefined when it is not one. */
export function toCodeOutcome(o: unknown): CodeOutcome | undefined {
  if (typeof o !== "object" || o === null) return undefined;
  const r = o as Record<string, unknown>;
  if (typeof r.tenantId !== "string" || !Number.isFinite(r.authorizedAt) || !Number.isFinite(r.until)) return undefined;
  if (r.failed === true) return { tenantId: "", authorizedAt: 0, until: r.until as number, failed: true };
  if (r.tenantId === "") return undefined;
  return { tenantId: r.tenantId, authorizedAt: r.authorizedAt as number, until: r.until as number };
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

/** Pending codes in the order pendingCodes gives them: oldest received first (then by CreateTime, then by code, so every store agrees). */
export function byReceipt(a: PendingCode, b: PendingCode): number {
  return a.receivedAt - b.receivedAt || a.createdAt - b.createdAt || (a.code < b.code ? -1 : a.code > b.code ? 1 : 0);
}

/** A stored pending code read back, or undefined when it is not one (a tenantId that is not a non-empty string is dropped). */
export function toPendingCode(p: unknown): PendingCode | undefined {
  if (typeof p !== "object" || p === null) return undefined;
  const o = p as Record<string, unknown>;
  const ok =
    typeof o.code === "string" &&
    o.code.length > 0 &&
    typeof o.infoType === "string" &&
    o.infoType.length > 0 &&
    Number.isFinite(o.receivedAt) &&
    Number.isFinite(o.createdAt);
  if (!ok) return undefined;
  return {
    code: o.code as string,
    infoType: o.infoType as string,
    receivedAt: o.receivedAt as number,
    createdAt: o.createdAt as number,
    ...(typeof o.tenantId === "string" && o.tenantId.length > 0 ? { tenantId: o.tenantId } : {}),
  };
}

/** Agentids read back: an array of non-empty strings (a copy), or undefined. */
export function toAgents(a: unknown): string[] | undefined {
  return Array.isArray(a) && a.every((x) => typeof x === "string" && x.length > 0) ? [...(a as string[])] : undefined;
}

/** A stored authorizer read back, or undefined when it is not one (agents that are not an array of non-empty strings are dropped, not the record). */
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
  const agents = toAgents(o.agents);
  return {
    appId: o.appId as string,
    refreshToken: o.refreshToken as string,
    status: o.status as AuthorizerStatus,
    authorizedAt: o.authorizedAt as number,
    updatedAt: o.updatedAt as number,
    ...(agents ? { agents } : {}),
  };
}

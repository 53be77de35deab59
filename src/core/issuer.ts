/**
 * The one thing that differs between credential kinds: how a value is fetched
 * from WeChat and what its errcodes mean. Everything else (single flight,
 * schedule, backoff, quota, stores, replicas, watchers) is the engine's, the
 * same for every kind. Implementations live in src/issuers/.
 */
import type { CredentialId, CredentialRecord } from "./credential-id.js";
import type { HourlyLimit } from "./quota-guard.js";

/** A value as WeChat returned it. */
export interface Fetched {
  value: string;
  /** Seconds the value lives from the moment of the request, as WeChat said. */
  expiresIn: number;
}

export interface FetchContext {
  /** Ask for a new value rather than the current one (a ForceRefresh). */
  force: boolean;
  signal: AbortSignal;
  /**
   * How many times the client's own timeout to wait for the answer (1, then
   * 2, 4... after answers that were lost): a slow WeChat then yields one value
   * we hold instead of a chain of values we never saw.
   */
  timeoutFactor: number;
  /**
   * A second upstream call within this fetch (a ticket retried once after its
   * parent token was refreshed): checked against and counted in the same
   * limits as the first. Throws QuotaGuardError when a limit refuses it.
   */
  extraCall(): void;
  /** The parent credential's token (the issuer's `parent`), linked by the engine. */
  parent?: ParentToken;
}

/** What a ticket issuer needs of its parent token: the engine's credential, seen from below. */
export interface ParentToken {
  get(): Promise<CredentialRecord>;
  /**
   * Compare-and-refresh: a new token only if `stale` is still the current one.
   * `refused`: WeChat itself just refused it (40001/40014/42001 to a call made
   * with it), so the minimum interval between forced refreshes does not hold it back.
   */
  forceRefresh(stale: string, caller: string, refused?: boolean): Promise<{ token: CredentialRecord }>;
}

export interface Issuer {
  readonly id: CredentialId;
  /**
   * The credential whose token this one is fetched with (a ticket's
   * access_token, an authorizer's component token): the engine hands it over
   * in FetchContext.parent, looked up at each fetch.
   */
  readonly parent?: CredentialId;
  /** The upstream endpoint, for logs and metrics ("token", "stable_token", "ticket/getticket", ...). */
  readonly endpoint: string;
  /**
   * Changes when what the issuer fetches with changes (secret, endpoint): a
   * config reload compares it. An opaque digest, never the secret.
   */
  readonly source: string;
  /** Which daily budget the fetches count against. */
  readonly budget: "token" | "ticket";
  /** The refresh lead may not exceed this: stable_token only issues a new token in its last 5 minutes. */
  readonly maxMarginMs?: number;
  /**
   * WeChat answers the same value until it expires (tickets, WeCom tokens):
   * after a same-value answer the next attempt is at expiry, not sooner.
   */
  readonly sameValueUntilExpiry: boolean;
  /**
   * Every answered fetch issues a new value, which cuts the one held this
   * long after (/cgi-bin/token: 5 minutes). After an answer that was lost, the
   * held value is then assumed to live at most this long past that call.
   */
  readonly supersedesAfterMs?: number;
  /** Shared hourly limits every fetch counts against (WeCom tickets). */
  readonly hourlyLimits: readonly HourlyLimit[];
  /** One upstream fetch (a ticket may make two: see FetchContext.extraCall). Throws UpstreamError or QuotaGuardError. */
  fetch(ctx: FetchContext): Promise<Fetched>;
  /**
   * Asks WeChat, at no token quota, whether it takes `value` (a call made
   * with it, e.g. GET /cgi-bin/getcallbackip): true when it answers, false
   * when it refuses the value as invalid or expired (40001, 40014, 42001);
   * throws when it cannot tell. Absent where WeChat has no such call (tickets,
   * the component token). See stale-check.ts.
   */
  check?(value: string): Promise<boolean>;
}

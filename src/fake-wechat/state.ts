/**
 * What WeChat decides for each call, as plain functions of the request fields:
 * credentials, token issuance per lineage, quotas. The HTTP layer (routes.ts)
 * only parses requests and serialises these outcomes.
 */
import type { Clock } from "../clock.js";
import { PeriodCounter, QuotaBook, shanghaiDay } from "./quota.js";
import { TicketBook } from "./tickets.js";
import { type TokenRecord, TokenBook } from "./tokens.js";

export interface StateOptions {
  apps: Record<string, string>;
  clock: Clock;
  expiresIn: number;
  overlapMs: number;
  dailyQuota: number;
  stableForceRefreshPerDay: number;
  stableForceMinIntervalMs: number;
  /** Seconds a JS-SDK ticket lives (and what getticket answers as expires_in). */
  ticketExpiresIn: number;
  /** getticket successes per app and type per day. */
  ticketDailyQuota: number;
}

export type Refusal = { ok: false; errcode: number };
export type Outcome = { ok: true; body: Record<string, unknown> } | Refusal;

/** WeChat's documented daily limit for stable_token. */
export const STABLE_DAILY_LIMIT = 500_000;
const CLEARS_PER_MONTH = 10;

export const fail = (errcode: number): Refusal => ({ ok: false, errcode });

export class WeChatState {
  readonly tokens: TokenBook;
  readonly quota: QuotaBook;
  readonly tickets: TicketBook;
  private readonly ticketQuota: PeriodCounter;
  private readonly apps: Map<string, string>;

  constructor(private readonly o: StateOptions) {
    this.apps = new Map(Object.entries(o.apps));
    this.tokens = new TokenBook(o.clock, o.overlapMs);
    this.quota = new QuotaBook(o.clock);
    this.tickets = new TicketBook(o.clock);
    this.ticketQuota = new PeriodCounter(o.clock, shanghaiDay);
  }

  /** GET /cgi-bin/ticket/getticket for the token's app: jsapi or wx_card, the same ticket while valid. */
  ticket(appId: string, type: string): Outcome {
    if (type !== "jsapi" && type !== "wx_card") return fail(40097);
    const counter = `${appId}\u0000${type}`;
    if (this.ticketQuota.get(counter) >= this.o.ticketDailyQuota) return fail(45009);
    this.ticketQuota.add(counter);
    const ticket = this.tickets.fetch(appId, type, this.o.ticketExpiresIn * 1000);
    // Always the full lifetime, even for a ticket handed out again: what the real service does.
    return { ok: true, body: { errcode: 0, errmsg: "ok", ticket, expires_in: this.o.ticketExpiresIn } };
  }

  hasApp(appId: string): boolean {
    return this.apps.has(appId);
  }

  appIds(): string[] {
    return [...this.apps.keys()];
  }

  /** GET /cgi-bin/token: every success is a new token and one unit of the daily quota. */
  token(grantType?: string, appIdParam?: string, secret?: string): Outcome {
    const who = this.checkCredentials(grantType, appIdParam, secret);
    if (!who.ok) return who;
    const { appId } = who;
    if (this.quota.token.get(appId) >= this.o.dailyQuota) return fail(45009);
    const record = this.tokens.issue(appId, "token", this.o.expiresIn * 1000);
    this.quota.token.add(appId);
    return { ok: true, body: { access_token: record.value, expires_in: this.o.expiresIn } };
  }

  /** POST /cgi-bin/stable_token, from its parsed JSON body. */
  stableToken(body: Record<string, unknown>): Outcome {
    const who = this.checkCredentials(str(body["grant_type"]), str(body["appid"]), str(body["secret"]));
    if (!who.ok) return who;
    const { appId } = who;
    if (this.quota.stable.get(appId) >= STABLE_DAILY_LIMIT) return fail(45009);

    const now = this.o.clock.now();
    const current = this.tokens.current(appId, "stable");
    let record: TokenRecord;
    if (body["force_refresh"] === true) {
      const last = this.quota.lastForceAt.get(appId);
      if (current && last !== undefined && now - last < this.o.stableForceMinIntervalMs) {
        // Too soon after the last forced refresh: WeChat hands back the current token.
        record = current;
      } else if (this.quota.stableForce.get(appId) >= this.o.stableForceRefreshPerDay) {
        return fail(45009);
      } else {
        // "Invalidates the previous token": no overlap, unlike a non-forced renewal.
        record = this.tokens.issue(appId, "stable", this.o.expiresIn * 1000, "cut-at-once");
        this.quota.stableForce.add(appId);
        this.quota.lastForceAt.set(appId, now);
      }
    } else if (current && now < current.expiresAt - this.o.overlapMs) {
      record = current;
    } else {
      // None yet, or in its last minutes: a new one; the old works until its expiry.
      record = this.tokens.issue(appId, "stable", this.o.expiresIn * 1000);
    }
    this.quota.stable.add(appId);
    return { ok: true, body: { access_token: record.value, expires_in: Math.floor((record.expiresAt - now) / 1000) } };
  }

  /** The app behind an access_token, or the errcode a call with it gets. */
  checkAccess(token: string | null | undefined): { ok: true; appId: string } | Refusal {
    if (!token) return { ok: false, errcode: 41001 };
    let check = this.tokens.check(token);
    // An Open Platform authorizer's token works for the account's APIs (tickets included).
    if (!check.ok && check.errcode === 40014 && this.authorizerTokens) check = this.authorizerTokens.check(token);
    return check.ok ? { ok: true, appId: check.record.appId } : { ok: false, errcode: check.errcode };
  }

  /** Tokens an Open Platform issued to its authorizers, accepted like the accounts' own (FakeWeChat sets it with a component). */
  authorizerTokens: TokenBook | undefined;

  /** POST /cgi-bin/openapi/quota/get for the token's app. */
  quotaGet(appId: string, body: Record<string, unknown>): Outcome {
    const cgiPath = body["cgi_path"];
    const counters =
      cgiPath === "/cgi-bin/token"
        ? { limit: this.o.dailyQuota, used: this.quota.token.get(appId) }
        : cgiPath === "/cgi-bin/stable_token"
          ? { limit: STABLE_DAILY_LIMIT, used: this.quota.stable.get(appId) }
          : undefined;
    if (!counters) return fail(76021);
    const { limit, used } = counters;
    return {
      ok: true,
      body: { errcode: 0, errmsg: "ok", quota: { daily_limit: limit, used, remain: Math.max(0, limit - used) } },
    };
  }

  /** POST /cgi-bin/clear_quota: the token's own app only, 10 a month. */
  clearQuota(tokenAppId: string, body: Record<string, unknown>): Outcome {
    const appId = str(body["appid"]);
    if (appId === undefined) return fail(41002);
    if (appId !== tokenAppId) return fail(40013);
    return this.resetDay(appId);
  }

  /**
   * POST /cgi-bin/clear_quota/v2 with appid and appsecret (query or JSON
   * body): works without a token; shares the 10 resets a month.
   */
  clearQuotaV2(appId: string | undefined, secret: string | undefined): Outcome {
    if (!appId) return fail(41002);
    if (!secret) return fail(41004);
    const expected = this.apps.get(appId);
    if (expected === undefined) return fail(40013);
    if (secret !== expected) return fail(40125);
    return this.resetDay(appId);
  }

  /** One of the month's 10 resets: the day's counters start from zero again. */
  private resetDay(appId: string): Outcome {
    if (this.quota.clears.get(appId) >= CLEARS_PER_MONTH) return fail(48006);
    this.quota.clears.add(appId);
    this.quota.clearDay(appId);
    return { ok: true, body: { errcode: 0, errmsg: "ok" } };
  }

  /** Test/demo hook: every token of the app stops working (40001). */
  invalidate(appId: string): void {
    this.tokens.revokeAll(appId);
  }

  isValid(appId: string, token: string): boolean {
    const check = this.tokens.check(token);
    return check.ok && check.record.appId === appId;
  }

  /** The checks both token endpoints make, in WeChat's order; undefined when all pass. */
  /** The app the credentials are for, or the errcode WeChat answers them with. */
  private checkCredentials(grantType?: string, appId?: string, secret?: string): { ok: true; appId: string } | Refusal {
    if (!appId) return fail(41002);
    if (!secret) return fail(41004);
    if (grantType !== "client_credential") return fail(40002);
    const expected = this.apps.get(appId);
    if (expected === undefined) return fail(40013);
    if (secret !== expected) return fail(40125);
    return { ok: true, appId };
  }
}

/** A body field as a string, or undefined when absent or of another type. */
function str(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

/**
 * What WeChat decides for an Open Platform component (第三方平台), on the
 * injected clock: the verify tickets it pushed, component_access_tokens,
 * authorization codes, authorizers' refresh and access tokens.
 *
 * Where WeChat's documentation is silent the fake picks, and says so:
 * - A ticket works for 12 hours after it was pushed (61005 after, 61006 for
 *   one never pushed); a newer ticket does not retire older ones.
 * - A new component_access_token, and a new authorizer_access_token, leave
 *   the previous one working for overlapMs (as /cgi-bin/token does); an older
 *   one stops at once (40001). Unknown tokens answer 40001, expired 42001.
 * - An authorization code is good for one exchange within authCodeLifetimeMs
 *   (default 3600 s, the gap in WeChat's sample push); a used or unknown code
 *   answers 61009 "code is invalid", an expired one 61010 "code is expired".
 * - The refresh token stays the same across api_authorizer_token calls (unless
 *   a rotation was asked for: then that answer carries a new one); every
 *   authorization (a re-authorization too) issues a new one at once, retiring
 *   the old one (61023), and query_auth hands it out; de-authorization retires
 *   it and the account's access tokens.
 * - A component_appid other than the configured one answers 40013, a wrong
 *   secret 40125, count outside 1..500 in get_authorizer_list 40097.
 * - get_authorizer_list is in authorization order (then by appid); an account
 *   that authorizes again keeps its place.
 */
import { randomBytes } from "node:crypto";
import type { Clock } from "../clock.js";
import { AuthorizerRoster, newRefreshToken } from "./component-authorizers.js";
import { fail, type Outcome } from "./state.js";
import { TokenBook } from "./tokens.js";

export interface ComponentStateOptions {
  appId: string;
  secret: string;
  clock: Clock;
  overlapMs: number;
  /** Seconds; what the token endpoints answer; default 7200. */
  expiresIn: number;
  ticketLifetimeMs: number;
  authCodeLifetimeMs: number;
  /** Pre-authorized accounts: appid -> func_info ids. */
  authorizers: Record<string, number[]>;
}

interface AuthCode {
  authorizerAppId: string;
  expiresAt: number;
  used: boolean;
}

/** How many authorizers have been handed an access token, for a bench to follow a restore and a refresh wave. */
export interface AuthorizerTokenProgress {
  /** Accounts authorized now (get_authorizer_list's total_count). */
  authorized: number;
  /** Accounts issued at least one access token. */
  withToken: number;
  /** Access tokens issued to an account that had one before (refreshes). */
  refreshes: number;
  /** Refreshes that came after the account's previous token had stopped working (expired): a refresh too late. */
  expiredBeforeRefresh: number;
  /** The account issued a token last, if any. */
  lastAppId: string | undefined;
}

const COMPONENT = "component";
const random = (bytes: number) => randomBytes(bytes).toString("base64url");

export class ComponentState {
  private readonly tickets = new Map<string, number>();
  private newestTicket: string | undefined;
  readonly componentTokens: TokenBook;
  readonly authorizerTokens: TokenBook;
  private readonly authorizers = new AuthorizerRoster();
  private withToken = 0;
  private refreshes = 0;
  private expiredBeforeRefresh = 0;
  private lastTokenAppId: string | undefined;
  private readonly codes = new Map<string, AuthCode>();
  /** Authorizers whose next api_authorizer_token answer carries a new refresh token. */
  readonly rotateNext = new Set<string>();

  constructor(private readonly o: ComponentStateOptions) {
    this.componentTokens = new TokenBook(o.clock, o.overlapMs);
    this.authorizerTokens = new TokenBook(o.clock, o.overlapMs);
    for (const [appId, funcInfo] of Object.entries(o.authorizers)) {
      this.authorizers.authorize(appId, o.clock.now(), funcInfo).authorizer.refreshToken = newRefreshToken();
    }
  }

  /** n more authorized accounts (appids seededAuthorizerAppId(k), refresh tokens of their own), in one O(n) step. */
  seedAuthorizers(n: number): { first: string; last: string } | undefined {
    return this.authorizers.seed(n, this.o.clock.now());
  }

  tokenProgress(): AuthorizerTokenProgress {
    return { authorized: this.authorizers.size, withToken: this.withToken, refreshes: this.refreshes, expiredBeforeRefresh: this.expiredBeforeRefresh, lastAppId: this.lastTokenAppId };
  }

  /** An access token for the account, counted for tokenProgress(). */
  private issueAuthorizerToken(a: { appId: string; tokensIssued: number }) {
    if (a.tokensIssued++ === 0) this.withToken++;
    else {
      this.refreshes++;
      if (!this.authorizerTokens.current(a.appId, "token")) this.expiredBeforeRefresh++;
    }
    this.lastTokenAppId = a.appId;
    return this.authorizerTokens.issue(a.appId, "token", this.o.expiresIn * 1000);
  }

  /** Called on api_start_push_ticket (the fake pushes a ticket soon after). */
  onStartPush: (() => void) | undefined;

  /** POST /cgi-bin/component/api_start_push_ticket, credentials already checked. */
  startPush(): Outcome {
    this.onStartPush?.();
    return { ok: true, body: { errcode: 0, errmsg: "ok" } };
  }

  get appId(): string {
    return this.o.appId;
  }

  /** A new verify ticket, valid from now on (pushed or not). */
  newTicket(): string {
    const ticket = `ticket@@@${random(60)}`;
    this.tickets.set(ticket, this.o.clock.now() + this.o.ticketLifetimeMs);
    this.newestTicket = ticket;
    return ticket;
  }

  currentTicket(): string | undefined {
    const t = this.newestTicket;
    return t !== undefined && this.o.clock.now() < this.tickets.get(t)! ? t : undefined;
  }

  checkSecret(appId: unknown, secret: unknown): Outcome | undefined {
    if (typeof appId !== "string" || appId === "") return fail(41002);
    if (appId !== this.o.appId) return fail(40013);
    if (typeof secret !== "string" || secret === "") return fail(41004);
    if (secret !== this.o.secret) return fail(40125);
    return undefined;
  }

  /** POST /cgi-bin/component/api_component_token */
  componentToken(body: Record<string, unknown>): Outcome {
    const bad = this.checkSecret(body["component_appid"], body["component_appsecret"]);
    if (bad) return bad;
    const ticket = body["component_verify_ticket"];
    const expiresAt = typeof ticket === "string" ? this.tickets.get(ticket) : undefined;
    if (expiresAt === undefined) return fail(61006);
    if (this.o.clock.now() >= expiresAt) return fail(61005);
    const record = this.componentTokens.issue(COMPONENT, "token", this.o.expiresIn * 1000);
    return { ok: true, body: { component_access_token: record.value, expires_in: this.o.expiresIn } };
  }

  /** The errcode for a call made with ?component_access_token=, or undefined when it works. */
  checkComponentToken(value: string | null): Outcome | undefined {
    if (!value) return fail(41001);
    const check = this.componentTokens.check(value);
    if (check.ok) return undefined;
    return fail(check.errcode === 40014 ? 40001 : check.errcode);
  }

  /** An authorization by the account's admin: the code to push, and whether it was already authorized. */
  authorize(authorizerAppId: string): { code: string; expiresAt: number; update: boolean } {
    const now = this.o.clock.now();
    const { authorizer: a, update } = this.authorizers.authorize(authorizerAppId, now);
    a.refreshToken = newRefreshToken();
    const code = `queryauthcode@@@${random(48)}`;
    const expiresAt = now + this.o.authCodeLifetimeMs;
    this.codes.set(code, { authorizerAppId, expiresAt, used: false });
    return { code, expiresAt, update };
  }

  /** Whether the account had authorized; its refresh token, tokens and codes stop working. */
  deauthorize(authorizerAppId: string): boolean {
    if (!this.authorizers.deauthorize(authorizerAppId)) return false;
    this.authorizerTokens.revokeAll(authorizerAppId);
    for (const code of this.codes.values()) if (code.authorizerAppId === authorizerAppId) code.used = true;
    return true;
  }

  /** POST /cgi-bin/component/api_query_auth */
  queryAuth(body: Record<string, unknown>): Outcome {
    if (body["component_appid"] !== this.o.appId) return fail(typeof body["component_appid"] === "string" ? 40013 : 41002);
    const value = body["authorization_code"];
    const code = typeof value === "string" ? this.codes.get(value) : undefined;
    const a = code && this.authorizers.get(code.authorizerAppId);
    if (!code || code.used || !a?.authorized) return fail(61009);
    if (this.o.clock.now() >= code.expiresAt) return fail(61010);
    code.used = true;
    const token = this.issueAuthorizerToken(a);
    return {
      ok: true,
      body: {
        authorization_info: {
          authorizer_appid: a.appId,
          authorizer_access_token: token.value,
          expires_in: this.o.expiresIn,
          authorizer_refresh_token: a.refreshToken,
          func_info: a.funcInfo.map((id) => ({ funcscope_category: { id } })),
        },
      },
    };
  }

  /** POST /cgi-bin/component/api_authorizer_token */
  authorizerToken(body: Record<string, unknown>): Outcome {
    if (body["component_appid"] !== this.o.appId) return fail(typeof body["component_appid"] === "string" ? 40013 : 41002);
    const appId = body["authorizer_appid"];
    const refresh = body["authorizer_refresh_token"];
    const a = typeof appId === "string" ? this.authorizers.get(appId) : undefined;
    if (!a?.authorized || a.refreshToken === undefined || refresh !== a.refreshToken) return fail(61023);
    const token = this.issueAuthorizerToken(a);
    // WeChat may hand out a new refresh token here: the old one stops working at once.
    if (this.rotateNext.delete(a.appId)) a.refreshToken = newRefreshToken();
    return { ok: true, body: { authorizer_access_token: token.value, expires_in: this.o.expiresIn, authorizer_refresh_token: a.refreshToken } };
  }

  /** POST /cgi-bin/component/api_get_authorizer_list: authorized accounts in authorization order. */
  authorizerList(body: Record<string, unknown>): Outcome {
    if (body["component_appid"] !== this.o.appId) return fail(typeof body["component_appid"] === "string" ? 40013 : 41002);
    const offset = body["offset"];
    const count = body["count"];
    if (!Number.isInteger(offset) || (offset as number) < 0 || !Number.isInteger(count) || (count as number) < 1 || (count as number) > 500) return fail(40097);
    const page = this.authorizers.page(offset as number, count as number);
    return {
      ok: true,
      body: {
        total_count: this.authorizers.size,
        list: page.map((a) => ({ authorizer_appid: a.appId, refresh_token: a.refreshToken, auth_time: Math.floor(a.authTime / 1000) })),
      },
    };
  }

  refreshTokenOf(authorizerAppId: string): string | undefined {
    const a = this.authorizers.get(authorizerAppId);
    return a?.authorized ? a.refreshToken : undefined;
  }

  isAuthorizerTokenValid(authorizerAppId: string, value: string): boolean {
    const check = this.authorizerTokens.check(value);
    return check.ok && check.record.appId === authorizerAppId;
  }

  isComponentTokenValid(value: string): boolean {
    return this.componentTokens.check(value).ok;
  }
}

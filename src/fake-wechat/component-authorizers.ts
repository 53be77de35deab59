/**
 * The accounts that authorized the fake component, held so that a platform of
 * 100,000 (up to 1,000,000) of them stays cheap: a lookup by appid is O(1),
 * api_get_authorizer_list reads a page in O(page) from an array kept in
 * authorization order, and seeding N accounts is one O(N) call.
 */
import { randomBytes } from "node:crypto";

export interface Authorizer {
  appId: string;
  funcInfo: number[];
  authorized: boolean;
  authTime: number;
  refreshToken: string | undefined;
  /** Access tokens issued to it so far (query_auth and api_authorizer_token alike). */
  tokensIssued: number;
}

export const DEFAULT_FUNC_INFO = [1, 15, 4, 7, 2, 3, 11, 6];

/** `wx` and 16 hex digits, as real appids look: the i-th account seedAuthorizers() made (0-based). */
export function seededAuthorizerAppId(i: number): string {
  return `wx${i.toString(16).padStart(16, "0")}`;
}

/** A new refresh token (as query_auth hands out). */
export function newRefreshToken(): string {
  return `refreshtoken@@@${randomBytes(32).toString("base64url")}`;
}

/** n refresh tokens from one random buffer: seeding a million accounts with a call to randomBytes each takes seconds. */
function refreshTokens(n: number): string[] {
  const bytes = randomBytes(32 * n);
  return Array.from({ length: n }, (_, i) => `refreshtoken@@@${bytes.subarray(32 * i, 32 * i + 32).toString("base64url")}`);
}

/** The list's order: authorization time, then appid. */
function before(x: Authorizer, y: Authorizer): boolean {
  return x.authTime < y.authTime || (x.authTime === y.authTime && x.appId < y.appId);
}

export class AuthorizerRoster {
  private readonly byAppId = new Map<string, Authorizer>();
  /** The authorized accounts in list order. */
  private readonly order: Authorizer[] = [];
  /** The next index seedAuthorizers() names an account after. */
  private seeded = 0;

  get(appId: string): Authorizer | undefined {
    return this.byAppId.get(appId);
  }

  /** Authorized accounts: get_authorizer_list's total_count. */
  get size(): number {
    return this.order.length;
  }

  /** Marks the account authorized (adding it if new); whether it already was. Its refresh token is the caller's to set. */
  authorize(appId: string, now: number, funcInfo: number[] = DEFAULT_FUNC_INFO): { authorizer: Authorizer; update: boolean } {
    let a = this.byAppId.get(appId);
    if (!a) {
      a = { appId, funcInfo, authorized: false, authTime: now, refreshToken: undefined, tokensIssued: 0 };
      this.byAppId.set(appId, a);
    }
    const update = a.authorized;
    if (!update) {
      // A re-authorization keeps its place in the list; an authorization after a de-authorization takes a new one.
      a.authTime = now;
      a.authorized = true;
      this.insert(a);
    }
    return { authorizer: a, update };
  }

  /** Marks the account de-authorized; whether it was authorized. */
  deauthorize(appId: string): Authorizer | undefined {
    const a = this.byAppId.get(appId);
    if (!a?.authorized) return undefined;
    a.authorized = false;
    a.refreshToken = undefined;
    const i = this.lowerBound(a);
    if (this.order[i] === a) this.order.splice(i, 1);
    return a;
  }

  /** The accounts at [offset, offset + count) of the list. */
  page(offset: number, count: number): Authorizer[] {
    return this.order.slice(offset, offset + count);
  }

  /**
   * n more authorized accounts, named seededAuthorizerAppId(k) for the next n
   * values of k (skipping names already taken), each with its own refresh
   * token, authorized at `now`. Returns the first and last appids made.
   */
  seed(n: number, now: number, funcInfo: number[] = DEFAULT_FUNC_INFO): { first: string; last: string } | undefined {
    if (!Number.isInteger(n) || n < 1) return undefined;
    const tokens = refreshTokens(n);
    const added: Authorizer[] = [];
    while (added.length < n) {
      const appId = seededAuthorizerAppId(this.seeded++);
      if (this.byAppId.has(appId)) continue;
      const a: Authorizer = { appId, funcInfo, authorized: true, authTime: now, refreshToken: tokens[added.length], tokensIssued: 0 };
      this.byAppId.set(appId, a);
      added.push(a);
    }
    const last = this.order[this.order.length - 1];
    // Seeded names grow, so the batch is in list order: appended as is unless an account sorts after its first.
    for (const a of added) this.order.push(a);
    if (last && before(added[0]!, last)) this.order.sort((x, y) => (before(x, y) ? -1 : before(y, x) ? 1 : 0));
    return { first: added[0]!.appId, last: added[added.length - 1]!.appId };
  }

  private insert(a: Authorizer): void {
    const last = this.order[this.order.length - 1];
    if (!last || before(last, a)) this.order.push(a);
    else this.order.splice(this.lowerBound(a), 0, a);
  }

  /** The first position whose account is not before `a`. */
  private lowerBound(a: Authorizer): number {
    let lo = 0;
    let hi = this.order.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (before(this.order[mid]!, a)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

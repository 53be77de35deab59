/**
 * A WeCom suite's credentials: its suite_access_token (bought with the newest
 * pushed suite_ticket), each installed corp's access_token per (suite, corp)
 * (get_corp_token with the permanent code; for a 代开发 app, gettoken with the
 * permanent code as the corp's secret), the corp's JS-SDK tickets, and the
 * provider's own provider_access_token. The suite (suite.ts) holds the ticket
 * and the permanent codes; these issuers only ask it.
 *
 * A suite may have 100,000 installed corps: what their issuers share is made
 * once per suite, and a corp's issuer is one small object.
 */
import type { CredentialId } from "../core/credential-id.js";
import type { FetchContext, Fetched, Issuer } from "../core/issuer.js";
import type { HourlyLimit } from "../core/quota-guard.js";
import { sourceDigest } from "../issuers/digest.js";
import { fetchWithParent } from "../issuers/ticket.js";
import { ticketKind } from "../issuers/types.js";
import { fetchWeComTicket, wecomTicketEndpoint } from "../issuers/wecom.js";
import { MissingInputError, WeChatError, type ErrcodeTable } from "../upstream/errors.js";
import type { Secret } from "../secret.js";
import type { WeChatClient } from "../upstream/wechat-client.js";
import type { CorpTicket, ProviderEntry, SuiteEntry } from "../config/platforms.js";

export const SUITE_TOKEN_PATH = "/cgi-bin/service/get_suite_token";
export const CORP_TOKEN_PATH = "/cgi-bin/service/get_corp_token";
export const PROVIDER_TOKEN_PATH = "/cgi-bin/service/get_provider_token";
const GETTOKEN_PATH = "/cgi-bin/gettoken";

const COMMON: ErrcodeTable = {
  [-1]: { kind: "transient", meaning: "system busy" },
  45009: { kind: "quota", meaning: "API call frequency limit", retryMs: () => 60_000 },
  45033: { kind: "quota", meaning: "too many concurrent calls", retryMs: () => 60_000 },
  60020: { kind: "admin", meaning: "caller IP not in the provider's trusted IPs" },
};

/** get_suite_token's errcodes. */
export const SUITE_TOKEN_ERRCODES: ErrcodeTable = {
  ...COMMON,
  40001: { kind: "permanent", meaning: "invalid suite_secret" },
  40083: { kind: "permanent", meaning: "invalid suite_id" },
  // Only a new push helps: the suite waits for the next one (every 10 minutes) and retries.
  40085: { kind: "transient", meaning: "suite_ticket invalid, expired or another suite's", reason: "SUITE_TICKET_INVALID" },
};

/** A stale suite_access_token, answered by calls made with it: it is compare-and-refreshed and the call retried once. */
export const STALE_SUITE_TOKEN_ERRCODES: ReadonlySet<number> = new Set([42009, 40082]);

/** The errcodes of the calls made with the suite token (get_corp_token, get_permanent_code, get_auth_info). */
export const SUITE_CALL_ERRCODES: ErrcodeTable = {
  ...COMMON,
  42009: { kind: "transient", meaning: "suite_access_token expired" },
  40082: { kind: "transient", meaning: "invalid suite_access_token" },
  41001: { kind: "permanent", meaning: "suite_access_token missing" },
  // The corp's token goes with its authorization: the one held is not served any longer (nor its tickets).
  40084: { kind: "permanent", meaning: "invalid permanent_code", reason: "NEEDS_REAUTHORIZATION", revokesValue: true },
  48004: { kind: "permanent", meaning: "the corp's authorization is gone (uninstalled)", reason: "NEEDS_REAUTHORIZATION", revokesValue: true },
  40078: { kind: "permanent", meaning: "invalid auth_code (used, expired or another suite's)", reason: "INVALID_AUTH_CODE" },
};

/** gettoken's errcodes for a 代开发 app: the permanent code is the secret. */
const CUSTOM_APP_TOKEN_ERRCODES: ErrcodeTable = {
  ...COMMON,
  40001: { kind: "permanent", meaning: "invalid secret (the permanent code was reset or revoked)", reason: "NEEDS_REAUTHORIZATION", revokesValue: true },
  40013: { kind: "permanent", meaning: "invalid corpid" },
  40091: { kind: "permanent", meaning: "invalid secret", reason: "NEEDS_REAUTHORIZATION", revokesValue: true },
  48004: { kind: "permanent", meaning: "the corp's authorization is gone (uninstalled)", reason: "NEEDS_REAUTHORIZATION", revokesValue: true },
};

/** get_provider_token's errcodes. */
const PROVIDER_TOKEN_ERRCODES: ErrcodeTable = {
  ...COMMON,
  40001: { kind: "permanent", meaning: "invalid provider_secret" },
  40013: { kind: "permanent", meaning: "invalid provider corpid" },
};

/** What the suite token issuer asks of its suite. */
export interface SuiteTicketSource {
  /** The newest suite_ticket WeCom has not refused, if still valid; throws MissingInputError (NO_SUITE_TICKET) otherwise. */
  usableTicket(): Promise<string>;
  /** WeCom refused it (40085): not used again; the suite waits for the next push. */
  ticketRefused(ticket: string): void;
}

/** What a corp token issuer asks of its suite. */
export interface PermanentCodeSource {
  /** The stored permanent code (from the shared store); undefined when none is held. */
  permanentCodeOf(corpId: string): Promise<string | undefined>;
  /** A fetch with it worked (clears a needs-reauthorization mark). */
  permanentCodeWorked(corpId: string, code: string): void;
  /** WeCom refused it (40084, 48004; for 代开发 a gettoken 40001): the corp must install again. */
  permanentCodeRefused(corpId: string, code: string): void;
}

export function suiteTokenIssuer(entry: SuiteEntry, tickets: SuiteTicketSource, client: WeChatClient): Issuer {
  return {
    id: { appId: entry.suiteId, kind: "access_token" },
    endpoint: "service/get_suite_token",
    source: sourceDigest(entry.secret, "suite"),
    budget: "token",
    // WeCom answers the same suite token while it is valid.
    sameValueUntilExpiry: true,
    hourlyLimits: [],
    fetch: async (ctx) => {
      const ticket = await tickets.usableTicket();
      const secret = entry.secret.reveal();
      try {
        const body = await client.request(SUITE_TOKEN_PATH, {
          body: { suite_id: entry.suiteId, suite_secret: secret, suite_ticket: ticket },
          redact: [secret, ticket],
          errcodes: SUITE_TOKEN_ERRCODES,
          signal: ctx.signal,
          timeoutFactor: ctx.timeoutFactor,
        });
        return client.valueOf(SUITE_TOKEN_PATH, body, "suite_access_token", [secret, ticket]);
      } catch (err) {
        if (err instanceof WeChatError && err.errcode === 40085) tickets.ticketRefused(ticket);
        throw err;
      }
    },
  };
}

/** A call made with the suite token: 42009 or 40082 refresh it (compare-and-refresh) and the call is retried once. */
export function withSuiteToken<T>(ctx: Pick<FetchContext, "extraCall" | "parent">, endpoint: string, what: string, call: (token: string) => Promise<T>): Promise<T> {
  return fetchWithParent(ctx, endpoint, what, call, STALE_SUITE_TOKEN_ERRCODES);
}

/** What every corp issuer of one suite shares. */
interface Shared {
  readonly entry: SuiteEntry;
  readonly codes: PermanentCodeSource;
  readonly client: WeChatClient;
  /** The suite's secret, not the permanent code: a reset permanent code is not a new issuer. */
  readonly source: string;
  readonly parent: CredentialId | undefined;
}

const NO_LIMITS: readonly HourlyLimit[] = [];

class CorpTokenIssuer implements Issuer {
  readonly id: CredentialId;

  constructor(
    private readonly shared: Shared,
    corpId: string,
  ) {
    this.id = { appId: corpId, platform: shared.entry.suiteId, kind: "access_token" };
  }

  get parent(): CredentialId | undefined {
    return this.shared.parent;
  }
  get source(): string {
    return this.shared.source;
  }
  get endpoint(): string {
    return this.shared.entry.customApp ? "gettoken" : "service/get_corp_token";
  }
  get budget(): "token" {
    return "token";
  }
  get sameValueUntilExpiry(): boolean {
    // WeCom answers the same corp token while it is valid.
    return true;
  }
  get hourlyLimits(): readonly HourlyLimit[] {
    return NO_LIMITS;
  }

  fetch(ctx: FetchContext): Promise<Fetched> {
    return this.shared.entry.customApp ? this.fetchCustom(ctx) : this.fetchThirdParty(ctx);
  }

  private async permanentCode(): Promise<string> {
    const code = await this.shared.codes.permanentCodeOf(this.id.appId);
    if (code === undefined) {
      throw new MissingInputError(this.endpoint, "NO_PERMANENT_CODE", `no permanent code held for corp ${this.id.appId} under suite ${this.shared.entry.suiteId}: the corp must install the app again`);
    }
    return code;
  }

  private fetchThirdParty(ctx: FetchContext): Promise<Fetched> {
    const { client } = this.shared;
    const corpId = this.id.appId;
    return withSuiteToken(ctx, CORP_TOKEN_PATH, `corp ${corpId}`, (token) =>
      this.withPermanentCode(ctx, CORP_TOKEN_PATH, [token], (code) =>
        client.request(CORP_TOKEN_PATH, {
          query: { suite_access_token: token },
          body: { auth_corpid: corpId, permanent_code: code },
          redact: [token, code],
          errcodes: SUITE_CALL_ERRCODES,
          signal: ctx.signal,
          timeoutFactor: ctx.timeoutFactor,
        }),
      ),
    );
  }

  private fetchCustom(ctx: FetchContext): Promise<Fetched> {
    const { client } = this.shared;
    return this.withPermanentCode(ctx, GETTOKEN_PATH, [], (code) =>
      client.request(GETTOKEN_PATH, {
        query: { corpid: this.id.appId, corpsecret: code },
        redact: [code],
        errcodes: CUSTOM_APP_TOKEN_ERRCODES,
        signal: ctx.signal,
        timeoutFactor: ctx.timeoutFactor,
      }),
    );
  }

  /**
   * A call with the corp's permanent code: WeCom's refusal of the code is
   * told to the suite, and so is a success. A code replaced while the call
   * ran (a 代开发 reset_permanent_code retires the old one at its exchange; a
   * reinstall brings a new one) is not a refusal of the corp: the call is
   * made once more with the code held now.
   */
  private async withPermanentCode(
    ctx: Pick<FetchContext, "extraCall">,
    path: string,
    redact: string[],
    call: (code: string) => Promise<Record<string, unknown>>,
  ): Promise<Fetched> {
    const { client, codes } = this.shared;
    const corpId = this.id.appId;
    let code = await this.permanentCode();
    let body: Record<string, unknown>;
    try {
      body = await call(code);
    } catch (err) {
      if (!refusesCode(err)) throw err;
      // The store unreadable now: WeCom's refusal stands.
      const now = await codes.permanentCodeOf(corpId).catch(() => code);
      if (now === undefined || now === code) {
        codes.permanentCodeRefused(corpId, code);
        throw err;
      }
      code = now;
      ctx.extraCall();
      try {
        body = await call(code);
      } catch (again) {
        if (refusesCode(again)) codes.permanentCodeRefused(corpId, code);
        throw again;
      }
    }
    codes.permanentCodeWorked(corpId, code);
    return client.valueOf(path, body, "access_token", [...redact, code]);
  }
}

/** WeCom refused the corp's permanent code (40084, 48004; for 代开发 a gettoken 40001 or 40091). */
function refusesCode(err: unknown): boolean {
  return err instanceof WeChatError && err.reason === "NEEDS_REAUTHORIZATION";
}

/** The issuer maker of one suite's corps: `(corpId) => Issuer`. */
export function corpTokenIssuers(entry: SuiteEntry, codes: PermanentCodeSource, client: WeChatClient): (corpId: string) => Issuer {
  const shared: Shared = {
    entry,
    codes,
    client,
    source: sourceDigest(entry.secret, "corp", entry.suiteId),
    // A 代开发 corp token needs no suite token (gettoken with the permanent code).
    parent: entry.customApp ? undefined : { appId: entry.suiteId, kind: "access_token" },
  };
  return (corpId) => new CorpTokenIssuer(shared, corpId);
}

/**
 * An installed corp's JS-SDK ticket, fetched with that corp's token through
 * the suite: "jsapi" (wx.config) or "agent_config" (wx.agentConfig; the
 * suite's app is one agent in the corp). Counted against the corp's hourly
 * limit (shared with the corp's self-built apps) and the app's.
 */
export function corpTicketIssuer(entry: SuiteEntry, corpId: string, type: CorpTicket, client: WeChatClient, limits: readonly HourlyLimit[]): Issuer {
  return {
    id: { appId: corpId, platform: entry.suiteId, kind: ticketKind(type) },
    parent: { appId: corpId, platform: entry.suiteId, kind: "access_token" },
    endpoint: wecomTicketEndpoint(type),
    source: sourceDigest(entry.secret, "corp-ticket", entry.suiteId, type),
    budget: "ticket",
    sameValueUntilExpiry: true,
    hourlyLimits: limits,
    fetch: (ctx) => fetchWeComTicket(client, type, ctx),
  };
}

/** The provider's own provider_access_token (the same value while it is valid). */
export function providerTokenIssuer(provider: ProviderEntry & { secret: Secret }, client: WeChatClient): Issuer {
  return {
    id: { appId: provider.corpId, kind: "access_token" },
    endpoint: "service/get_provider_token",
    source: sourceDigest(provider.secret, "provider"),
    budget: "token",
    sameValueUntilExpiry: true,
    hourlyLimits: [],
    fetch: async (ctx) => {
      const secret = provider.secret.reveal();
      const body = await client.request(PROVIDER_TOKEN_PATH, {
        body: { corpid: provider.corpId, provider_secret: secret },
        redact: [secret],
        errcodes: PROVIDER_TOKEN_ERRCODES,
        signal: ctx.signal,
        timeoutFactor: ctx.timeoutFactor,
      });
      return client.valueOf(PROVIDER_TOKEN_PATH, body, "provider_access_token", [secret]);
    },
  };
}

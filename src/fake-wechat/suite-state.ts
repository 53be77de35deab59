/**
 * What WeCom decides for a service provider's suite (第三方应用, or a 代开发
 * template when `customized`), on the injected clock: the suite_tickets it
 * pushed, suite_access_tokens, auth codes, the corps that installed it with
 * their permanent codes, and (through WeComState) their corp tokens.
 *
 * WeCom's documented behaviour the fake encodes:
 * - A suite_ticket is pushed every 10 minutes and works for 30 minutes; any
 *   ticket of this suite still within its life works (the newest, or an older
 *   one not yet expired). An expired ticket, one never pushed or another
 *   suite's answers 40085.
 * - get_suite_token: an unknown suite_id answers 40083, a wrong suite_secret
 *   40001. A re-fetch while the token is valid answers the same token (WeCom
 *   staff say so); expires_in reads 7200 every time, as gettoken's does.
 * - A suite_access_token past its life answers 42009, an unknown one 40082,
 *   a missing one 41001.
 * - An auth code (create_auth, the redirect, reset_permanent_code) is good
 *   for one get_permanent_code within 10 minutes, with this suite's token;
 *   anything else answers 40078.
 * - The permanent code never expires. get_corp_token and get_auth_info with a
 *   permanent code that is not the corp's answer 40084; after the corp
 *   uninstalled (cancel_auth), its last code answers 48004.
 * - 代开发: the permanent code is the app's secret: gettoken with it issues
 *   the corp token, get_corp_token with it answers 40084.
 *   reset_permanent_code issues a code whose exchange gives a new permanent
 *   code; the old one stops working at that exchange.
 *
 * Where WeCom is silent the fake picks, and says so: a corp installs one app
 * (one agent) of the suite; uninstalling cuts the corp's tokens at once
 * (40014); a corp token issued with a permanent code outlives that code's
 * reset until its own expiry.
 */
import { randomBytes } from "node:crypto";
import type { Clock } from "../clock.js";
import { FaultList } from "./faults.js";
import { PushedTickets } from "./pushed-tickets.js";
import { fail, type Outcome, type Refusal } from "./state.js";
import { TokenBook } from "./tokens.js";
import type { WeComState } from "./wecom.js";

export interface SuiteStateOptions {
  suiteId: string;
  secret: string;
  clock: Clock;
  /** A 代开发 template: the permanent code is the app's gettoken secret. */
  customized: boolean;
  /** Seconds; what the token endpoints answer. */
  expiresIn: number;
  ticketLifetimeMs: number;
  authCodeLifetimeMs: number;
  /** Corp tokens are WeCom's own (gettoken's). */
  wecom: WeComState;
  /** The agentid of an app a corp installs, unique in the fake. */
  newAgentId(): number;
}

export interface InstalledCorp {
  corpId: string;
  corpName: string;
  agentId: number;
  agentName: string;
  installed: boolean;
  /** The working permanent code; after cancel_auth the last one (it then answers 48004). */
  permanentCode: string;
}

interface AuthCode {
  corpId: string;
  permanentCode: string;
  expiresAt: number;
  used: boolean;
}

/** A request the suite's state refuses (installed twice, not installed, reset on a non-代开发 suite, no pushUrl). */
export class SuiteStateError extends Error {
  override readonly name = "SuiteStateError";
}

const SUITE = "suite";
const random = (bytes: number) => randomBytes(bytes).toString("base64url");

export class SuiteState {
  private readonly tickets: PushedTickets;
  private readonly suiteTokens: TokenBook;
  private readonly corps = new Map<string, InstalledCorp>();
  /** Each corp's newest auth code. */
  private readonly codeOfCorp = new Map<string, string>();
  private readonly codes = new Map<string, AuthCode>();
  /** Errcodes on demand (FakeSuite.failNext), matched by endpoint path and corp. */
  readonly faults = new FaultList();

  constructor(private readonly o: SuiteStateOptions) {
    // No overlap matters: a new suite token is only issued once the last expired.
    this.suiteTokens = new TokenBook(o.clock, 0);
    this.tickets = new PushedTickets(o.clock, o.ticketLifetimeMs, () => random(32));
  }

  get suiteId(): string {
    return this.o.suiteId;
  }

  /** A new suite_ticket, working from now for ticketLifetimeMs (pushed or not). */
  newTicket(): string {
    return this.tickets.issue();
  }

  currentTicket(): string | undefined {
    return this.tickets.current();
  }

  /** POST /cgi-bin/service/get_suite_token */
  suiteToken(body: Record<string, unknown>): Outcome {
    if (body["suite_id"] !== this.o.suiteId) return fail(40083);
    if (body["suite_secret"] !== this.o.secret) return fail(40001);
    if (!this.tickets.works(body["suite_ticket"])) return fail(40085);
    const record = this.suiteTokens.current(SUITE, "token") ?? this.suiteTokens.issue(SUITE, "token", this.o.expiresIn * 1000);
    return { ok: true, body: { errcode: 0, errmsg: "ok", suite_access_token: record.value, expires_in: this.o.expiresIn } };
  }

  /** Whether the fake issued this suite_access_token (valid or not). */
  ownsToken(value: string): boolean {
    return this.suiteTokens.ownerOf(value) !== undefined;
  }

  /** The errcode for a call made with ?suite_access_token=, or undefined when it works. */
  checkSuiteToken(value: string | null): Refusal | undefined {
    if (!value) return fail(41001);
    const check = this.suiteTokens.check(value);
    if (check.ok) return undefined;
    return fail(check.errcode === 42001 ? 42009 : 40082);
  }

  isSuiteTokenValid(value: string): boolean {
    return this.suiteTokens.check(value).ok;
  }

  /** A corp installs the app: its permanent code is made now, handed out by the code's exchange. */
  install(corpId: string, corpName = `corp ${corpId}`): { code: string; expiresAt: number } {
    const held = this.corps.get(corpId);
    if (held?.installed) throw new SuiteStateError(`suite ${this.o.suiteId}: ${corpId} has already installed it`);
    const corp: InstalledCorp = {
      corpId,
      corpName: held?.corpName ?? corpName,
      agentId: held?.agentId ?? this.o.newAgentId(),
      agentName: held?.agentName ?? `app of ${this.o.suiteId}`,
      installed: true,
      permanentCode: newPermanentCode(),
    };
    this.corps.set(corpId, corp);
    return this.newCode(corp, corp.permanentCode);
  }

  /** The corp changed the app's authorization (change_auth); whether it has the app installed. */
  change(corpId: string, changes: { agentName?: string }): boolean {
    const corp = this.installed(corpId);
    if (!corp) return false;
    if (changes.agentName !== undefined) corp.agentName = changes.agentName;
    return true;
  }

  /** The corp uninstalled (cancel_auth): its permanent code, codes and tokens stop working. Whether it had installed. */
  cancel(corpId: string): boolean {
    const corp = this.installed(corpId);
    if (!corp) return false;
    corp.installed = false;
    for (const code of this.codes.values()) if (code.corpId === corpId) code.used = true;
    this.o.wecom.invalidate(corpId, String(corp.agentId));
    return true;
  }

  /** 代开发 only: a code whose exchange gives the corp a new permanent code (reset_permanent_code). */
  reset(corpId: string): { code: string; expiresAt: number } {
    if (!this.o.customized) throw new SuiteStateError(`suite ${this.o.suiteId} is not a 代开发 template: no reset_permanent_code`);
    const corp = this.installed(corpId);
    if (!corp) throw new SuiteStateError(`suite ${this.o.suiteId}: ${corpId} has not installed it`);
    return this.newCode(corp, newPermanentCode());
  }

  /** POST /cgi-bin/service/get_permanent_code (v1: with the corp token and agents) and v2 (without either). */
  permanentCode(body: Record<string, unknown>, version: 1 | 2): Outcome {
    const value = body["auth_code"];
    const code = typeof value === "string" ? this.codes.get(value) : undefined;
    const corp = code && this.installed(code.corpId);
    if (!code || code.used || !corp || this.o.clock.now() >= code.expiresAt) return fail(40078);
    code.used = true;
    corp.permanentCode = code.permanentCode;
    const user = { auth_user_info: { userid: "admin", open_userid: `wo${random(12)}`, name: "admin" } };
    if (version === 2) {
      return { ok: true, body: { errcode: 0, errmsg: "ok", permanent_code: corp.permanentCode, auth_corp_info: { corpid: corp.corpId, corp_name: corp.corpName }, ...user } };
    }
    const token = this.o.wecom.tokenOf(corp.corpId, String(corp.agentId));
    return { ok: true, body: { errcode: 0, errmsg: "ok", ...token, permanent_code: corp.permanentCode, ...this.authInfoBody(corp), ...user } };
  }

  /** POST /cgi-bin/service/get_auth_info */
  authInfo(body: Record<string, unknown>): Outcome {
    const corp = this.byPermanentCode(body);
    return corp.ok ? { ok: true, body: { errcode: 0, errmsg: "ok", ...this.authInfoBody(corp.corp) } } : corp;
  }

  /** POST /cgi-bin/service/get_corp_token: not for a 代开发 app (its code is a gettoken secret). */
  corpToken(body: Record<string, unknown>): Outcome {
    const corp = this.byPermanentCode(body);
    if (!corp.ok) return corp;
    if (this.o.customized) return fail(40084);
    return { ok: true, body: { errcode: 0, errmsg: "ok", ...this.o.wecom.tokenOf(corp.corp.corpId, String(corp.corp.agentId)) } };
  }

  /** A 代开发 app's agent when the secret is its corp's working permanent code (gettoken). */
  agentOfSecret(corpId: string, secret: string): string | undefined {
    const corp = this.o.customized ? this.installed(corpId) : undefined;
    return corp?.permanentCode === secret ? String(corp.agentId) : undefined;
  }

  hasCorp(corpId: string): boolean {
    return this.corps.has(corpId);
  }

  corp(corpId: string): Readonly<InstalledCorp> | undefined {
    return this.corps.get(corpId);
  }

  installedCorps(): string[] {
    return [...this.corps.values()].filter((c) => c.installed).map((c) => c.corpId);
  }

  private installed(corpId: string): InstalledCorp | undefined {
    const corp = this.corps.get(corpId);
    return corp?.installed ? corp : undefined;
  }

  /** A new auth code for the corp; its earlier unused ones die (only the newest can be exchanged). */
  private newCode(corp: InstalledCorp, permanentCode: string): { code: string; expiresAt: number } {
    // A corp's newer code replaces its older one (looked up by corp: 100,000 pre-installed corps cost O(N), not O(N²)).
    const older = this.codeOfCorp.get(corp.corpId);
    const held = older === undefined ? undefined : this.codes.get(older);
    if (held) held.used = true;
    const code = random(48);
    const expiresAt = this.o.clock.now() + this.o.authCodeLifetimeMs;
    this.codes.set(code, { corpId: corp.corpId, permanentCode, expiresAt, used: false });
    this.codeOfCorp.set(corp.corpId, code);
    return { code, expiresAt };
  }

  /** The corp a {auth_corpid, permanent_code} body names: 40084 for a code not its own, 48004 once it uninstalled. */
  private byPermanentCode(body: Record<string, unknown>): { ok: true; corp: InstalledCorp } | Refusal {
    const corp = typeof body["auth_corpid"] === "string" ? this.corps.get(body["auth_corpid"]) : undefined;
    if (!corp || body["permanent_code"] !== corp.permanentCode) return fail(40084);
    return corp.installed ? { ok: true, corp } : fail(48004);
  }

  private authInfoBody(corp: InstalledCorp): Record<string, unknown> {
    return {
      auth_corp_info: { corpid: corp.corpId, corp_name: corp.corpName, corp_type: "verified", subject_type: 1, corp_user_max: 200 },
      auth_info: {
        agent: [{ agentid: corp.agentId, name: corp.agentName, is_customized_app: this.o.customized, privilege: { level: 1, allow_user: [], allow_party: [1] } }],
      },
    };
  }
}

function newPermanentCode(): string {
  return random(32);
}

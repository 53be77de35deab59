/**
 * What WeCom (企业微信) decides, on its own host: one token per secret under a
 * corp (the same token while valid, expires_in always 7200), tokens WeCom may
 * cut early, the corp jsapi ticket and each agent's agent_config ticket with
 * their hourly limits (400 an hour per corp, 100 per agent), and 301002 for a
 * token used with another agent's id. Apps installed by a service provider's
 * suite get their corp tokens here too (WeComApps), so they share the same
 * rotation, tickets and limits.
 */
import { randomBytes } from "node:crypto";
import type { Clock } from "../clock.js";
import { PeriodCounter } from "./quota.js";
import { fail, type Outcome, type Refusal } from "./state.js";
import { TicketBook } from "./tickets.js";

export interface WeComOptions {
  /** corpId -> agent (agentid or built-in app name) -> secret. */
  corps: Record<string, Record<string, string>>;
  clock: Clock;
  /** Seconds; what gettoken and the ticket endpoints answer; default 7200. */
  expiresIn: number;
  ticketsPerCorpHour: number;
  ticketsPerAgentHour: number;
}

interface Token {
  value: string;
  corpId: string;
  agent: string;
  expiresAt: number;
  cut: boolean;
}

const hourOf = (ms: number) => Math.floor(ms / 3_600_000);

/** Apps WeCom knows beyond the configured corps': suites' installs (a 代开发 app's secret is its permanent code). */
export interface WeComApps {
  hasCorp(corpId: string): boolean;
  /** The agent whose gettoken secret this is, if any. */
  agentOfSecret(corpId: string, secret: string): string | undefined;
}

export class WeComState {
  readonly tickets: TicketBook;
  private readonly current = new Map<string, Token>();
  private readonly byValue = new Map<string, Token>();
  private readonly corpHour: PeriodCounter;
  private readonly agentHour: PeriodCounter;
  /** Consulted after the configured corps (FakeWeChat adds its suites). */
  readonly apps: WeComApps[] = [];

  constructor(private readonly o: WeComOptions) {
    this.tickets = new TicketBook(o.clock);
    this.corpHour = new PeriodCounter(o.clock, hourOf);
    this.agentHour = new PeriodCounter(o.clock, hourOf);
  }

  /** The agent whose secret this is, if the corp has one. */
  agentOf(corpId: string | undefined, secret: string | undefined): string | undefined {
    const agents = corpId === undefined ? undefined : this.o.corps[corpId];
    const own = Object.entries(agents ?? {}).find(([, s]) => s === secret)?.[0];
    if (own !== undefined || corpId === undefined || secret === undefined) return own;
    for (const apps of this.apps) {
      const agent = apps.agentOfSecret(corpId, secret);
      if (agent !== undefined) return agent;
    }
    return undefined;
  }

  /** GET /cgi-bin/gettoken: WeCom's 40001 is a wrong secret. */
  gettoken(corpId: string | undefined, secret: string | undefined): Outcome {
    if (!corpId) return fail(41002);
    if (!secret) return fail(41004);
    if (!this.o.corps[corpId] && !this.apps.some((a) => a.hasCorp(corpId))) return fail(40013);
    const agent = this.agentOf(corpId, secret);
    if (agent === undefined) return fail(40001);
    return { ok: true, body: { errcode: 0, errmsg: "ok", ...this.tokenOf(corpId, agent) } };
  }

  /** The agent's token: the same one while valid, a new one once expired or cut (gettoken and a suite's get_corp_token alike). */
  tokenOf(corpId: string, agent: string): { access_token: string; expires_in: number } {
    const key = `${corpId}/${agent}`;
    const now = this.o.clock.now();
    let token = this.current.get(key);
    if (!token || token.cut || now >= token.expiresAt) {
      token = { value: randomBytes(48).toString("base64url"), corpId, agent, expiresAt: now + this.o.expiresIn * 1000, cut: false };
      this.current.set(key, token);
      this.byValue.set(token.value, token);
    }
    return { access_token: token.value, expires_in: this.o.expiresIn };
  }

  /** Whose token it is, or the errcode a call with it gets. */
  check(value: string | null | undefined): { ok: true; corpId: string; agent: string } | Refusal {
    if (!value) return fail(41001);
    const token = this.byValue.get(value);
    if (!token || token.cut) return fail(40014);
    if (this.o.clock.now() >= token.expiresAt) return fail(42001);
    return { ok: true, corpId: token.corpId, agent: token.agent };
  }

  /** "corpid/agent" of a token the fake issued (even an invalid one). */
  ownerOf(value: string): string | undefined {
    const t = this.byValue.get(value);
    return t ? `${t.corpId}/${t.agent}` : undefined;
  }

  /** The corp jsapi ticket or the agent's agent_config ticket, within the hourly limits. */
  ticket(value: string | null | undefined, type: "jsapi" | "agent_config"): Outcome {
    const who = this.check(value);
    if (!who.ok) return who;
    const agentKey = `${who.corpId}/${who.agent}`;
    if (this.corpHour.get(who.corpId) >= this.o.ticketsPerCorpHour || this.agentHour.get(agentKey) >= this.o.ticketsPerAgentHour) return fail(45009);
    this.corpHour.add(who.corpId);
    this.agentHour.add(agentKey);
    const ticket = this.tickets.fetch(type === "jsapi" ? who.corpId : agentKey, type, this.o.expiresIn * 1000);
    return { ok: true, body: { errcode: 0, errmsg: "ok", ticket, expires_in: this.o.expiresIn } };
  }

  /** GET /cgi-bin/agent/get: a business call that names its agent. */
  agentGet(value: string | null | undefined, agentId: string | null): Outcome {
    const who = this.check(value);
    if (!who.ok) return who;
    if (agentId !== who.agent) return fail(301002);
    return { ok: true, body: { errcode: 0, errmsg: "ok", agentid: Number(agentId), name: `agent ${agentId}` } };
  }

  /** WeCom cut the agent's token early: it answers 40014, and gettoken issues a new one. */
  invalidate(corpId: string, agent: string): void {
    const token = this.current.get(`${corpId}/${agent}`);
    if (token) token.cut = true;
  }

  isValid(corpId: string, agent: string, value: string): boolean {
    const who = this.check(value);
    return who.ok && who.corpId === corpId && who.agent === agent;
  }
}

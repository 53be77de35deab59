/**
 * SignJsSdk's logic: which ticket signs which call, and the page policy.
 * The ticket comes from the engine (single flight, never an expired one) and
 * never leaves the server.
 */
import type { Clock } from "../clock.js";
import { FailedPreconditionError, InvalidArgumentError } from "../errors.js";
import type { CredentialId, CredentialKind } from "./credential-id.js";
import type { CredentialEngine } from "./engine.js";
import { cardSignature, nonceStr, pageSignature, pageUrl } from "./jssdk.js";

export type SignatureKind = "config" | "agent_config" | "card";

export interface SignRequest {
  appId: string;
  agent?: string;
  /** The WeCom suite an installed corp's page is signed through (its tickets, its agentid). */
  platform?: string;
  kind: SignatureKind;
  url?: unknown;
  cardValues: readonly string[];
}

export interface Signed {
  appId: string;
  agent: string;
  /** The suite id, "" for the config's apps. */
  platform: string;
  timestamp: number;
  nonceStr: string;
  signature: string;
  url: string;
  kind: SignatureKind;
  ticketVersion: number;
  ticketFingerprint: string;
}

const TICKET_OF: Record<SignatureKind, CredentialKind> = { config: "jsapi_ticket", agent_config: "agent_config_ticket", card: "wx_card_ticket" };
const MAX_CARD_VALUES = 16;

/**
 * The ticket a signature needs, as a credential id (the corp jsapi ticket has
 * no agent). A corp's tickets through a suite are the corp's under that suite:
 * the suite's app is one agent, so its agent_config ticket names none.
 */
export function ticketFor(req: Pick<SignRequest, "appId" | "agent" | "kind" | "platform">): CredentialId {
  const kind = TICKET_OF[req.kind];
  if (req.platform !== undefined) {
    if (req.kind === "card") throw new InvalidArgumentError("card signatures are for Official Accounts, not WeCom corps", "INVALID_SIGNATURE_KIND");
    return { appId: req.appId, platform: req.platform, kind };
  }
  if (req.kind === "agent_config") {
    if (req.agent === undefined) throw new InvalidArgumentError("agent is required for wx.agentConfig: the agentid whose ticket signs it", "INVALID_AGENT");
    return { appId: req.appId, agent: req.agent, kind };
  }
  return { appId: req.appId, kind };
}

export class JsSdkSigner {
  constructor(
    private readonly engine: CredentialEngine,
    private readonly clock: Clock,
    /** Allowed page origins by "appid", "corpid/agent", "corpid" (the corp ticket's holder) and "@suiteid" (its installed corps); absent or empty: any. */
    private origins: ReadonlyMap<string, readonly string[]>,
    /** The agentid of a suite's app in an installed corp (from its auth info): wx.agentConfig names it. */
    private readonly agentOf: (platform: string, corpId: string) => string | undefined = () => undefined,
  ) {}

  /** A reload may change the allowed origins. */
  setOrigins(origins: ReadonlyMap<string, readonly string[]>): void {
    this.origins = origins;
  }

  async sign(req: SignRequest): Promise<Signed> {
    const id = ticketFor(req);
    const card = req.kind === "card";
    if (card && req.cardValues.length > MAX_CARD_VALUES) throw new InvalidArgumentError(`at most ${MAX_CARD_VALUES} card_values`, "INVALID_CARD_VALUES");
    if (!card && req.cardValues.length > 0) throw new InvalidArgumentError("card_values are only for card signatures", "INVALID_CARD_VALUES");
    if (req.cardValues.some((v) => v.length > 512)) throw new InvalidArgumentError("a card value is longer than 512 characters", "INVALID_CARD_VALUES");
    const policyKey =
      req.platform !== undefined ? `@${req.platform}` : req.agent !== undefined && req.kind === "agent_config" ? `${req.appId}/${req.agent}` : req.appId;
    const url = card ? "" : pageUrl(req.url, this.origins.get(policyKey) ?? []);
    const ticket = await this.engine.find(id).get();
    const agent = req.kind !== "agent_config" ? "" : req.platform !== undefined ? this.suiteAgent(req.platform, req.appId) : (req.agent ?? "");
    const timestamp = Math.floor(this.clock.now() / 1000);
    const nonce = nonceStr();
    return {
      appId: req.appId,
      agent,
      platform: req.platform ?? "",
      timestamp,
      nonceStr: nonce,
      signature: card ? cardSignature(ticket.value, nonce, timestamp, req.cardValues) : pageSignature(ticket.value, nonce, timestamp, url),
      url,
      kind: req.kind,
      ticketVersion: ticket.version,
      ticketFingerprint: ticket.fingerprint,
    };
  }

  private suiteAgent(platform: string, corpId: string): string {
    const agent = this.agentOf(platform, corpId);
    if (agent === undefined) {
      throw new FailedPreconditionError(`no agentid is known for corp ${corpId} under suite ${platform}: its auth info lists no agent (a change_auth push re-reads it)`, "NO_AGENT_ID");
    }
    return agent;
  }
}

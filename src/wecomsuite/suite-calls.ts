/**
 * The calls a suite makes besides its tokens, all with the suite token:
 * exchanging an authorization code for the corp's permanent code
 * (get_permanent_code, v1: it also gives the agents and a first corp token)
 * and re-reading a corp's auth info (get_auth_info: its agents).
 */
import { APP_ID_PATTERN } from "../core/credential-id.js";
import type { Fetched } from "../core/issuer.js";
import { UpstreamTransportError } from "../upstream/errors.js";
import type { WeChatClient } from "../upstream/wechat-client.js";
import { SUITE_CALL_ERRCODES } from "./issuers.js";

const PERMANENT_CODE_PATH = "/cgi-bin/service/get_permanent_code";
const AUTH_INFO_PATH = "/cgi-bin/service/get_auth_info";

/** Makes a call with the suite token (see withSuiteToken). */
export type WithSuiteToken = <T>(endpoint: string, what: string, call: (token: string) => Promise<T>) => Promise<T>;

export interface Installed {
  corpId: string;
  permanentCode: string;
  /** The agentids of the suite's app in the corp. */
  agents: string[];
  /** The corp token the answer carries (v1), if any. */
  fetched: Fetched | undefined;
}

/** The agentids in an answer's auth_info.agent[]. */
function agentsOf(body: Record<string, unknown>): string[] {
  const info = body["auth_info"];
  const list = typeof info === "object" && info !== null ? (info as Record<string, unknown>)["agent"] : undefined;
  if (!Array.isArray(list)) return [];
  return list.flatMap((a) => {
    const id = typeof a === "object" && a !== null ? (a as Record<string, unknown>)["agentid"] : undefined;
    return typeof id === "number" || (typeof id === "string" && id !== "") ? [String(id)] : [];
  });
}

/** get_permanent_code: the corp, its permanent code (never logged), its agents and a first token. */
export async function getPermanentCode(client: WeChatClient, code: string, withToken: WithSuiteToken): Promise<Installed> {
  const body = await withToken(PERMANENT_CODE_PATH, "get_permanent_code", (token) =>
    client.request(PERMANENT_CODE_PATH, { query: { suite_access_token: token }, body: { auth_code: code }, redact: [token, code], errcodes: SUITE_CALL_ERRCODES }),
  );
  const corpInfo = body["auth_corp_info"];
  const corpId = typeof corpInfo === "object" && corpInfo !== null ? (corpInfo as Record<string, unknown>)["corpid"] : undefined;
  const permanentCode = body["permanent_code"];
  if (typeof corpId !== "string" || !APP_ID_PATTERN.test(corpId) || typeof permanentCode !== "string" || permanentCode === "") {
    throw new UpstreamTransportError(PERMANENT_CODE_PATH, "BAD_BODY", "the answer lacks auth_corp_info.corpid or permanent_code");
  }
  return { corpId, permanentCode, agents: agentsOf(body), fetched: firstToken(client, body, [code, permanentCode]) };
}

/**
 * The corp token a v1 answer carries, if it reads as one. It is a bonus:
 * the permanent code beside it is handed out once, so a token that does not
 * read (no usable expires_in, say) is left out, never a reason to fail the
 * exchange; the corp's token is then fetched as any other.
 */
function firstToken(client: WeChatClient, body: Record<string, unknown>, redact: string[]): Fetched | undefined {
  if (typeof body["access_token"] !== "string" || body["access_token"] === "") return undefined;
  try {
    return client.valueOf(PERMANENT_CODE_PATH, body, "access_token", redact);
  } catch {
    return undefined;
  }
}

/** get_auth_info: the corp's agents as they are now (after a change_auth). */
export async function getAuthInfo(client: WeChatClient, corpId: string, permanentCode: string, withToken: WithSuiteToken): Promise<string[]> {
  const body = await withToken(AUTH_INFO_PATH, "get_auth_info", (token) =>
    client.request(AUTH_INFO_PATH, {
      query: { suite_access_token: token },
      body: { auth_corpid: corpId, permanent_code: permanentCode },
      redact: [token, permanentCode],
      errcodes: SUITE_CALL_ERRCODES,
    }),
  );
  return agentsOf(body);
}

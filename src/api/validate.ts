/**
 * The checks on request fields, shared by every transport: a malformed field
 * is INVALID_ARGUMENT with a reason naming it, never a lookup.
 */
import { AGENT_PATTERN, AGENT_RULE, APP_ID_PATTERN, APP_ID_RULE, type CredentialId, type CredentialKind } from "../core/credential-id.js";
import { CREDENTIAL_KIND_HELP } from "@wxtoken/client";
import { InvalidArgumentError } from "../errors.js";

export function validateAppId(appId: unknown, field = "app_id"): string {
  if (typeof appId !== "string" || appId.length === 0) throw new InvalidArgumentError(`${field} is required`, "INVALID_APP_ID");
  if (!APP_ID_PATTERN.test(appId)) {
    throw new InvalidArgumentError(`${field} must be ${APP_ID_RULE} (a WeChat appid looks like wx1234567890abcdef)`, "INVALID_APP_ID");
  }
  return appId;
}

/** "" or undefined: no agent (an Official Account, or the corp jsapi ticket). */
export function validateAgent(agent: unknown): string | undefined {
  if (agent === undefined || agent === "") return undefined;
  if (typeof agent !== "string" || !AGENT_PATTERN.test(agent)) throw new InvalidArgumentError(`agent must be ${AGENT_RULE}`, "INVALID_AGENT");
  return agent;
}

/**
 * The credential a request names. `kind` comes already mapped from the
 * transport's enum; undefined means the request carried a value this server
 * does not know (a newer client).
 */
export function validateId(appId: unknown, agent: unknown, kind: CredentialKind | undefined): CredentialId {
  const app = validateAppId(appId);
  const a = validateAgent(agent);
  if (kind === undefined) throw new InvalidArgumentError(`kind is not a credential kind this server knows; valid kinds: ${CREDENTIAL_KIND_HELP}`, "INVALID_KIND");
  return a === undefined ? { appId: app, kind } : { appId: app, agent: a, kind };
}

/** The credential to look up: the corp jsapi ticket is the corp's, whichever agent asks for it. */
export function held(id: CredentialId): CredentialId {
  return id.kind === "jsapi_ticket" && id.agent !== undefined ? { appId: id.appId, kind: id.kind } : id;
}

const MAX_TOKEN_LENGTH = 4096;

export function validateStaleToken(token: unknown): string {
  if (typeof token !== "string" || token.length === 0) {
    throw new InvalidArgumentError("stale_token is required: pass the token WeChat rejected, so that the server refreshes only if it is still current", "INVALID_STALE_TOKEN");
  }
  if (token.length > MAX_TOKEN_LENGTH) throw new InvalidArgumentError(`stale_token is longer than ${MAX_TOKEN_LENGTH} characters`, "INVALID_STALE_TOKEN");
  return token;
}

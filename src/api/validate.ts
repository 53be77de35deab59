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

/** A pushed-ticket platform's id (an Open Platform's component appid, a WeCom suite id): the appid rule, its own reason. */
export function validatePlatformId(platformId: unknown, field = "platform_id"): string {
  if (typeof platformId !== "string" || platformId.length === 0) throw new InvalidArgumentError(`${field} is required`, "INVALID_PLATFORM_ID");
  if (!APP_ID_PATTERN.test(platformId)) {
    throw new InvalidArgumentError(`${field} must be ${APP_ID_RULE} (a component appid such as wx1234567890abcdef, or a WeCom suite id such as ww1234567890abcdef or dk1234567890abcdef)`, "INVALID_PLATFORM_ID");
  }
  return platformId;
}

/** "" or undefined: no platform (the config's apps, Open Platform authorizers). */
function optionalPlatformId(platformId: unknown): string | undefined {
  return platformId === undefined || platformId === "" ? undefined : validatePlatformId(platformId);
}

/**
 * The credential a request names. `kind` comes already mapped from the
 * transport's enum; undefined means the request carried a value this server
 * does not know (a newer client). With a platform (a corp through a WeCom
 * suite) the agent must be empty: the suite's app is one agent of the corp,
 * and its credentials name none.
 */
export function validateId(appId: unknown, agent: unknown, kind: CredentialKind | undefined, platformId?: unknown): CredentialId {
  const app = validateAppId(appId);
  const a = validateAgent(agent);
  const platform = optionalPlatformId(platformId);
  if (kind === undefined) throw new InvalidArgumentError(`kind is not a credential kind this server knows; valid kinds: ${CREDENTIAL_KIND_HELP}`, "INVALID_KIND");
  if (platform !== undefined) {
    if (a !== undefined) throw agentWithPlatform();
    return { appId: app, platform, kind };
  }
  return a === undefined ? { appId: app, kind } : { appId: app, agent: a, kind };
}

/** SignJsSdk's app, agent and platform: the same rules as validateId's. */
export function validateSignTarget(appId: unknown, agent: unknown, platformId: unknown): { appId: string; agent: string | undefined; platform: string | undefined } {
  const app = validateAppId(appId);
  const a = validateAgent(agent);
  const platform = optionalPlatformId(platformId);
  if (platform !== undefined && a !== undefined) throw agentWithPlatform();
  return { appId: app, agent: a, platform };
}

function agentWithPlatform(): InvalidArgumentError {
  return new InvalidArgumentError(
    "agent must be empty with platform_id: a corp's credentials through a WeCom suite name no agent (wx.agentConfig takes the suite app's agentid from the corp's auth info)",
    "INVALID_AGENT",
  );
}

/** Longer than any authorization code WeChat issues (they are well under 200 characters). */
export const MAX_AUTH_CODE_LENGTH = 512;

/** An authorization code from a redirect_uri: printable ASCII, no spaces; never echoed in the error. */
export function validateAuthCode(code: unknown): string {
  if (typeof code !== "string" || code.length === 0) {
    throw new InvalidArgumentError("auth_code is required: the auth_code WeChat appended to your redirect_uri", "INVALID_AUTH_CODE");
  }
  if (code.length > MAX_AUTH_CODE_LENGTH) throw new InvalidArgumentError(`auth_code is longer than ${MAX_AUTH_CODE_LENGTH} characters`, "INVALID_AUTH_CODE");
  if (!/^[\x21-\x7e]+$/.test(code)) {
    throw new InvalidArgumentError("auth_code must be printable ASCII without spaces (pass it URL-decoded, exactly as WeChat issued it)", "INVALID_AUTH_CODE");
  }
  return code;
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

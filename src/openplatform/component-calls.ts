/**
 * Two calls an Open Platform makes besides its tokens: exchanging an
 * authorization code (api_query_auth) and asking WeChat to push a
 * component_verify_ticket now (api_start_push_ticket).
 */
import { APP_ID_PATTERN } from "../core/credential-id.js";
import type { Fetched } from "../core/issuer.js";
import { AUTHORIZER_TOKEN_ERRCODES, COMPONENT_TOKEN_ERRCODES } from "../issuers/component.js";
import { UpstreamTransportError, type ErrcodeTable } from "../upstream/errors.js";
import type { WeChatClient } from "../upstream/wechat-client.js";
import type { PlatformEntry } from "../config/platforms.js";

const QUERY_AUTH_PATH = "/cgi-bin/component/api_query_auth";
const START_PUSH_PATH = "/cgi-bin/component/api_start_push_ticket";

const QUERY_AUTH_ERRCODES: ErrcodeTable = {
  ...AUTHORIZER_TOKEN_ERRCODES,
  61009: { kind: "permanent", meaning: "authorization code invalid or already used", reason: "INVALID_AUTH_CODE" },
  61010: { kind: "permanent", meaning: "authorization code expired", reason: "INVALID_AUTH_CODE" },
};

export interface Exchanged {
  appId: string;
  refreshToken: string;
  /** The authorizer access token the answer carries, when it reads (else it is fetched as any other). */
  fetched: Fetched | undefined;
}

/** api_query_auth: the authorizer's appid, refresh token and a first access token for an authorization code. */
export async function queryAuth(
  client: WeChatClient,
  componentAppId: string,
  code: string,
  withToken: <T>(endpoint: string, what: string, call: (token: string) => Promise<T>) => Promise<T>,
): Promise<Exchanged> {
  const body = await withToken(QUERY_AUTH_PATH, "query_auth", (token) =>
    client.request(QUERY_AUTH_PATH, {
      query: { component_access_token: token },
      body: { component_appid: componentAppId, authorization_code: code },
      redact: [token, code],
      errcodes: QUERY_AUTH_ERRCODES,
    }),
  );
  const info = body["authorization_info"];
  const o = typeof info === "object" && info !== null ? (info as Record<string, unknown>) : {};
  const appId = o["authorizer_appid"];
  const refreshToken = o["authorizer_refresh_token"];
  if (typeof appId !== "string" || !APP_ID_PATTERN.test(appId) || typeof refreshToken !== "string" || refreshToken === "") {
    throw new UpstreamTransportError(QUERY_AUTH_PATH, "BAD_BODY", "authorization_info lacks authorizer_appid or authorizer_refresh_token");
  }
  // The refresh token is the answer's point, handed out once: a first token that does not read must not lose it.
  let fetched: Fetched | undefined;
  try {
    fetched = client.valueOf(QUERY_AUTH_PATH, o, "authorizer_access_token", [code, refreshToken]);
  } catch {
    fetched = undefined;
  }
  return { appId, refreshToken, fetched };
}

/** api_start_push_ticket: WeChat pushes a new ticket within moments. The component secret goes in the body, redacted from every error. */
export async function startPushTicket(client: WeChatClient, entry: PlatformEntry): Promise<void> {
  const secret = entry.secret.reveal();
  await client.request(START_PUSH_PATH, {
    body: { component_appid: entry.componentAppId, component_secret: secret },
    redact: [secret],
    errcodes: COMPONENT_TOKEN_ERRCODES,
  });
}

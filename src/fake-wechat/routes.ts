/**
 * The WeChat endpoints the fake serves: how each reads its request and which
 * WeChatState decision it asks for. Every answer here is HTTP 200 JSON.
 */
import { API_CONTENT_TYPE, TOKEN_CONTENT_TYPE, type JsonBody } from "./http.js";
import { fail, type Outcome, type WeChatState } from "./state.js";

export interface WxRequest {
  method: string;
  query: URLSearchParams;
  /** The body as WeChat reads it (parseJsonBody), parsed once however often it is asked for. */
  json(): JsonBody;
}

export interface Route<S = WeChatState> {
  /** The label on the answer (it differs per endpoint on the real service). */
  contentType: string;
  /** Success answers a token: counted by successfulTokenCalls(). */
  tokenEndpoint: boolean;
  /** Successes are also counted under this tag ("ticket:jsapi", "wecom-token"), per app. */
  tag?(req: WxRequest): string;
  /** The app the request is about, for per-app counts and faults; undefined if unknown. */
  appIdOf(req: WxRequest, state: S): string | undefined;
  handle(req: WxRequest, state: S): Outcome;
}

/** Real addresses, some as CIDR ranges, as the real lists have them. */
const CALLBACK_IPS = ["106.55.206.146", "106.55.206.211", "101.226.103.0/25", "101.226.233.128/25", "58.247.206.128/25", "182.254.11.0/24", "117.185.253.0/25"];
const API_DOMAIN_IPS = ["101.89.47.18", "101.91.34.103", "101.226.129.166", "183.3.234.152", "203.205.239.82/32", "58.246.220.0/26"];

const token: Route = {
  contentType: TOKEN_CONTENT_TYPE,
  tokenEndpoint: true,
  appIdOf: (req) => req.query.get("appid") ?? undefined,
  handle: (req, state) =>
    state.token(req.query.get("grant_type") ?? undefined, req.query.get("appid") ?? undefined, req.query.get("secret") ?? undefined),
};

const stableToken: Route = {
  contentType: TOKEN_CONTENT_TYPE,
  tokenEndpoint: true,
  appIdOf: (req) => {
    const body = req.json();
    const appId = body.ok ? body.value["appid"] : undefined;
    return typeof appId === "string" ? appId : undefined;
  },
  handle: (req, state) => {
    if (req.method !== "POST") return fail(43002);
    const body = req.json();
    return body.ok ? state.stableToken(body.value) : fail(47001);
  },
};

/** An endpoint called with ?access_token=: the token is checked first, then the body (if POST). */
function withToken(post: boolean, answer: (appId: string, body: Record<string, unknown>, state: WeChatState) => Outcome): Route {
  return {
    contentType: API_CONTENT_TYPE,
    tokenEndpoint: false,
    appIdOf: (req, state) => state.tokens.ownerOf(req.query.get("access_token") ?? ""),
    handle: (req, state) => {
      const access = state.checkAccess(req.query.get("access_token"));
      if (!access.ok) return fail(access.errcode);
      if (!post) return answer(access.appId, {}, state);
      if (req.method !== "POST") return fail(43002);
      const body = req.json();
      return body.ok ? answer(access.appId, body.value, state) : fail(47001);
    },
  };
}

/** GET /cgi-bin/ticket/getticket?access_token=&type=jsapi|wx_card: the same ticket while it is valid. */
const getticket: Route = {
  contentType: API_CONTENT_TYPE,
  tokenEndpoint: false,
  tag: (req) => `ticket:${req.query.get("type") ?? ""}`,
  appIdOf: (req, state) => state.tokens.ownerOf(req.query.get("access_token") ?? ""),
  handle: (req, state) => {
    const access = state.checkAccess(req.query.get("access_token"));
    if (!access.ok) return fail(access.errcode);
    return state.ticket(access.appId, req.query.get("type") ?? "");
  },
};

export const ROUTES: ReadonlyMap<string, Route> = new Map([
  ["/cgi-bin/ticket/getticket", getticket],
  ["/cgi-bin/token", token],
  ["/cgi-bin/stable_token", stableToken],
  ["/cgi-bin/getcallbackip", withToken(false, () => ({ ok: true, body: { ip_list: CALLBACK_IPS } }))],
  ["/cgi-bin/get_api_domain_ip", withToken(false, () => ({ ok: true, body: { ip_list: API_DOMAIN_IPS } }))],
  ["/cgi-bin/openapi/quota/get", withToken(true, (appId, body, state) => state.quotaGet(appId, body))],
  ["/cgi-bin/clear_quota", withToken(true, (appId, body, state) => state.clearQuota(appId, body))],
  [
    "/cgi-bin/clear_quota/v2",
    {
      contentType: API_CONTENT_TYPE,
      tokenEndpoint: false,
      appIdOf: (req) => {
        const body = req.json();
        return req.query.get("appid") ?? (body.ok && typeof body.value["appid"] === "string" ? body.value["appid"] : undefined);
      },
      handle: (req, state) => {
        if (req.method !== "POST") return fail(43002);
        const body = req.json();
        const field = (name: string) => req.query.get(name) ?? (body.ok && typeof body.value[name] === "string" ? (body.value[name] as string) : undefined);
        return state.clearQuotaV2(field("appid"), field("appsecret"));
      },
    },
  ],
]);

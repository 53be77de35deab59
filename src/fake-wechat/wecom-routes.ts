/**
 * WeCom's endpoints, on the fake's second listener (WeCom has its own host,
 * qyapi.weixin.qq.com), and WeCom's error bodies.
 */
import { randomBytes } from "node:crypto";
import { API_CONTENT_TYPE } from "./http.js";
import type { Route, WxRequest } from "./routes.js";
import type { ErrorBody } from "./errors.js";
import type { WeComState } from "./wecom.js";

const WECOM_ERRMSG: Readonly<Record<number, string>> = {
  [-1]: "system busy",
  40001: "invalid secret",
  40013: "invalid corpid",
  40014: "invalid access_token",
  40091: "secret is invalid",
  40097: "invalid args",
  41001: "access_token missing",
  41002: "corpid missing",
  41004: "corpsecret missing",
  42001: "access_token expired",
  43002: "require POST method",
  45009: "api freq out of limit",
  45033: "api concurrent out of limit",
  47001: "data format error",
  48002: "api forbidden",
  // A service provider's suite (suite-state.ts).
  40078: "invalid auth_code",
  40082: "invalid suite_token",
  40083: "invalid suite_id",
  40084: "invalid permanent_code",
  40085: "invalid suite_ticket",
  42009: "suite_token expired",
  48004: "auth relation is invalid",
  60020: "not allow to access from your ip",
  301002: "access_token and agentid mismatch",
};

/** `{"errcode":N,"errmsg":"<text>, hint: [...], from ip: ..., more info at ...?e=N"}`, as WeCom writes them. */
export function wecomErrorBody(errcode: number, errmsg?: string, callerIp = "127.0.0.1"): ErrorBody {
  const text = errmsg ?? WECOM_ERRMSG[errcode] ?? "unknown error";
  const hint = `${Math.floor(Date.now() / 1000)}_${randomBytes(8).toString("hex")}`;
  return { errcode, errmsg: `${text}, hint: [${hint}], from ip: ${callerIp}, more info at https://open.work.weixin.qq.com/devtool/query?e=${errcode}` };
}

/** Addresses WeCom lists, some as ranges, as the real list has them. */
const WECOM_CALLBACK_IPS = ["101.226.103.0/25", "101.226.62.0/26", "58.251.80.0/26", "183.3.234.0/26"];

const byToken = (req: WxRequest, state: WeComState) => state.ownerOf(req.query.get("access_token") ?? "");

export const WECOM_ROUTES: ReadonlyMap<string, Route<WeComState>> = new Map<string, Route<WeComState>>([
  [
    "/cgi-bin/gettoken",
    {
      contentType: API_CONTENT_TYPE,
      tokenEndpoint: false,
      tag: () => "wecom-token",
      appIdOf: (req, state) => {
        const corp = req.query.get("corpid") ?? undefined;
        const agent = state.agentOf(corp, req.query.get("corpsecret") ?? undefined);
        return agent === undefined ? corp : `${corp}/${agent}`;
      },
      handle: (req, state) => state.gettoken(req.query.get("corpid") ?? undefined, req.query.get("corpsecret") ?? undefined),
    },
  ],
  [
    "/cgi-bin/get_jsapi_ticket",
    { contentType: API_CONTENT_TYPE, tokenEndpoint: false, tag: () => "ticket:jsapi", appIdOf: byToken, handle: (req, state) => state.ticket(req.query.get("access_token"), "jsapi") },
  ],
  [
    "/cgi-bin/ticket/get",
    {
      contentType: API_CONTENT_TYPE,
      tokenEndpoint: false,
      tag: (req) => `ticket:${req.query.get("type") ?? ""}`,
      appIdOf: byToken,
      handle: (req, state) =>
        req.query.get("type") === "agent_config" ? state.ticket(req.query.get("access_token"), "agent_config") : { ok: false, errcode: 40097 },
    },
  ],
  [
    // GET /cgi-bin/getcallbackip?access_token=: WeCom's callback IPs, for any valid token (the server checks a reported token with it).
    "/cgi-bin/getcallbackip",
    {
      contentType: API_CONTENT_TYPE,
      tokenEndpoint: false,
      appIdOf: byToken,
      handle: (req, state) => {
        const who = state.check(req.query.get("access_token"));
        return who.ok ? { ok: true, body: { errcode: 0, errmsg: "ok", ip_list: WECOM_CALLBACK_IPS } } : who;
      },
    },
  ],
  [
    "/cgi-bin/agent/get",
    { contentType: API_CONTENT_TYPE, tokenEndpoint: false, appIdOf: byToken, handle: (req, state) => state.agentGet(req.query.get("access_token"), req.query.get("agentid")) },
  ],
]);

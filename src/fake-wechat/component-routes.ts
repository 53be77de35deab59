/**
 * The Open Platform component endpoints (all POST JSON, on the Official
 * Account host) and the errmsg texts of their errcodes.
 */
import type { Clock } from "../clock.js";
import { errorBody, type ErrorBody } from "./errors.js";
import { API_CONTENT_TYPE } from "./http.js";
import type { Route, WxRequest } from "./routes.js";
import { fail, type Outcome } from "./state.js";
import type { ComponentState } from "./component-state.js";

/** Texts for the component errcodes (errors.ts has the shared ones). */
const COMPONENT_ERRMSG: Readonly<Record<number, string>> = {
  40097: "invalid args",
  61004: "access clientip is not registered",
  61005: "component ticket is expired",
  61006: "component ticket is invalid",
  61009: "code is invalid",
  61010: "code is expired",
  61023: "refresh_token is invalid",
};

export function componentErrorBody(clock: Clock, errcode: number, errmsg?: string, callerIp?: string): ErrorBody {
  return errorBody(clock, errcode, errmsg ?? COMPONENT_ERRMSG[errcode], callerIp);
}

/** For per-app counts and faults: the authorizer the call is about when the body names one, else the component. */
function appIdOf(req: WxRequest): string | undefined {
  const body = req.json();
  if (!body.ok) return undefined;
  const id = body.value["authorizer_appid"] ?? body.value["component_appid"];
  return typeof id === "string" ? id : undefined;
}

function post(needsToken: boolean, answer: (state: ComponentState, body: Record<string, unknown>) => Outcome): Route<ComponentState> {
  return {
    contentType: API_CONTENT_TYPE,
    tokenEndpoint: false,
    appIdOf,
    handle: (req, state) => {
      if (needsToken) {
        const refused = state.checkComponentToken(req.query.get("component_access_token"));
        if (refused) return refused;
      }
      if (req.method !== "POST") return fail(43002);
      const body = req.json();
      return body.ok ? answer(state, body.value) : fail(47001);
    },
  };
}

export const COMPONENT_ROUTES: ReadonlyMap<string, Route<ComponentState>> = new Map([
  ["/cgi-bin/component/api_component_token", post(false, (s, b) => s.componentToken(b))],
  ["/cgi-bin/component/api_start_push_ticket", post(false, (s, b) => s.checkSecret(b["component_appid"], b["component_secret"]) ?? s.startPush())],
  ["/cgi-bin/component/api_query_auth", post(true, (s, b) => s.queryAuth(b))],
  ["/cgi-bin/component/api_authorizer_token", post(true, (s, b) => s.authorizerToken(b))],
  ["/cgi-bin/component/api_get_authorizer_list", post(true, (s, b) => s.authorizerList(b))],
]);

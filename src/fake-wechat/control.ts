/**
 * The JSON control API under /_fake/, so a fake running as its own process
 * (the demo) can be driven like the in-process one. Never echoes a secret:
 * it knows app ids and counts only.
 */
import type { ServerResponse } from "node:http";
import { type FaultList, faultSchema } from "./faults.js";
import { parseJsonObject, sendJson } from "./http.js";
import type { WeChatState } from "./state.js";
import type { CallStats } from "./stats.js";
import type { WeComState } from "./wecom.js";
import type { FakeComponent } from "./component.js";
import type { FakeSuite } from "./suite.js";
import { handleSuiteControl } from "./suite-control.js";

/** The most accounts one seed call makes (a million take about a second and a few hundred MB). */
const MAX_SEED = 1_000_000;

export interface ControlDeps {
  /** The Open Platform component, when configured. */
  component?: FakeComponent;
  /** WeCom suites by id (suite-control.ts serves /_fake/suite/...). */
  suites?: ReadonlyMap<string, FakeSuite>;
  faults: FaultList;
  stats: CallStats;
  state: WeChatState;
  wecom: WeComState | undefined;
}

export function handleControl(method: string, url: URL, body: Buffer, contentType: string, res: ServerResponse, deps: ControlDeps): void {
  if (url.pathname.startsWith("/_fake/suite/")) return handleSuiteControl(method, url, res, deps.suites ?? new Map());
  switch (`${method} ${url.pathname}`) {
    case "POST /_fake/faults": {
      // JSON whatever the content type: `curl -d` labels it form-encoded, and
      // reading it WeChat's way would turn the fault into a silent no-op.
      const json = parseJsonObject(body);
      if (!json.ok) return sendJson(res, { error: `${json.error} (content-type: ${contentType || "none"}); send the fault as a JSON object` }, undefined, 400);
      const parsed = faultSchema.safeParse(json.value);
      if (!parsed.success) {
        const issues = parsed.error.issues.map((i) => (i.path.length ? `${i.path.join(".")}: ${i.message}` : i.message));
        return sendJson(res, { error: issues.join("; ") }, undefined, 400);
      }
      deps.faults.add(parsed.data);
      return sendJson(res, { ok: true, activeFaults: deps.faults.count() });
    }
    case "DELETE /_fake/faults":
      deps.faults.clear();
      return sendJson(res, { ok: true, activeFaults: 0 });
    case "POST /_fake/invalidate": {
      const appId = url.searchParams.get("appid");
      if (!appId) return sendJson(res, { error: "appid query parameter required" }, undefined, 400);
      if (!deps.state.hasApp(appId)) return sendJson(res, { error: `unknown appid ${appId}` }, undefined, 404);
      deps.state.invalidate(appId);
      return sendJson(res, { ok: true });
    }
    case "POST /_fake/invalidate-ticket": {
      // ?owner=<appid | corpid | corpid/agent>&type=jsapi|wx_card|agent_config
      const owner = url.searchParams.get("owner");
      const type = url.searchParams.get("type");
      if (!owner || !type) return sendJson(res, { error: "owner and type query parameters required" }, undefined, 400);
      deps.state.tickets.invalidate(owner, type);
      deps.wecom?.tickets.invalidate(owner, type);
      return sendJson(res, { ok: true });
    }
    case "POST /_fake/wecom/invalidate": {
      const corpId = url.searchParams.get("corpid");
      const agent = url.searchParams.get("agent");
      if (!deps.wecom || !corpId || !agent) return sendJson(res, { error: "corpid and agent query parameters required (and WeCom configured)" }, undefined, 400);
      deps.wecom.invalidate(corpId, agent);
      return sendJson(res, { ok: true });
    }
    case "POST /_fake/component/push-ticket":
    case "POST /_fake/component/authorize":
    case "POST /_fake/component/deauthorize": {
      // ?appid=<authorizer appid> for (de)authorize: the fake pushes the event to the platform's URL.
      const component = deps.component;
      if (!component) return sendJson(res, { error: "no component configured" }, undefined, 404);
      const appId = url.searchParams.get("appid");
      const action = url.pathname.slice("/_fake/component/".length);
      if (action !== "push-ticket" && !appId) return sendJson(res, { error: "appid query parameter required" }, undefined, 400);
      const push =
        action === "push-ticket" ? component.pushTicket() : action === "authorize" ? component.authorize(appId!) : component.deauthorize(appId!);
      push.then(
        (r) => sendJson(res, { ok: r.status === 200 && r.body === "success", receiverStatus: r.status, receiverBody: r.body.slice(0, 200) }),
        (err: Error) => sendJson(res, { error: err.message }, undefined, 409),
      );
      return;
    }
    case "POST /_fake/component/seed": {
      // ?n=100000: that many more accounts authorized at once (nothing pushed: WeChat's list holds them).
      if (!deps.component) return sendJson(res, { error: "no component configured" }, undefined, 404);
      const n = Number(url.searchParams.get("n"));
      if (!Number.isInteger(n) || n < 1 || n > MAX_SEED) return sendJson(res, { error: `n must be an integer from 1 to ${MAX_SEED}` }, undefined, 400);
      const made = deps.component.seedAuthorizers(n);
      return sendJson(res, { ok: true, ...made, authorized: deps.component.tokenProgress().authorized });
    }
    case "GET /_fake/component/progress":
      if (!deps.component) return sendJson(res, { error: "no component configured" }, undefined, 404);
      return sendJson(res, deps.component.tokenProgress());
    case "GET /_fake/rates":
      return sendJson(res, deps.stats.rates());
    case "DELETE /_fake/stats":
      deps.stats.reset();
      return sendJson(res, { ok: true });
    case "GET /_fake/stats": {
      const { quota } = deps.state;
      const quotaToday = Object.fromEntries(
        deps.state.appIds().map((id) => [
          id,
          { token: quota.token.get(id), stableToken: quota.stable.get(id), stableForceRefresh: quota.stableForce.get(id) },
        ]),
      );
      return sendJson(res, { ...deps.stats.snapshot(), activeFaults: deps.faults.count(), quotaToday });
    }
    default:
      return sendJson(res, { error: `no control endpoint ${method} ${url.pathname}` }, undefined, 404);
  }
}

/**
 * The control API for WeCom suites, under /_fake/suite/, so the demo and a
 * person with curl can drive them (all take ?suite=<suite id>):
 *
 *   POST push-ticket                         push a suite_ticket (the console's 刷新ticket)
 *   POST verify-url                          the console's URL check (验证URL): {ok, status, reason}
 *   POST install?corpid=C[&via=redirect]     create_auth pushed, or (redirect) the auth_code answered
 *   POST change?corpid=C[&agentname=N]       change_auth
 *   POST cancel?corpid=C                     cancel_auth
 *   POST reset?corpid=C                      reset_permanent_code (代开发)
 *   POST fail?errcode=N[&times=][&path=][&corpid=]   the next calls answer errcode
 *   GET  corps                               the installed corps and their agentids
 *
 * Never answers a secret, a permanent code or a URL check's echostr; the
 * redirect install answers its auth_code, as the browser would carry it to
 * the provider's redirect_uri.
 */
import type { ServerResponse } from "node:http";
import { sendJson } from "./http.js";
import type { FakeSuite, SuitePushResult } from "./suite.js";
import { SuiteStateError } from "./suite-state.js";

const MAX_TIMES = 1_000_000;

export function handleSuiteControl(method: string, url: URL, res: ServerResponse, suites: ReadonlyMap<string, FakeSuite>): void {
  const q = url.searchParams;
  const action = url.pathname.slice("/_fake/suite/".length);
  const suiteId = q.get("suite");
  if (!suiteId) return sendJson(res, { error: "suite query parameter required" }, undefined, 400);
  const suite = suites.get(suiteId);
  if (!suite) return sendJson(res, { error: `no suite ${suiteId} configured` }, undefined, 404);
  const corpId = q.get("corpid");
  const needsCorp = ["install", "change", "cancel", "reset"].includes(action);
  if (needsCorp && !corpId) return sendJson(res, { error: "corpid query parameter required" }, undefined, 400);

  const answer = (push: () => Promise<SuitePushResult>): void =>
    void push().then(
      (r) => sendJson(res, { ok: r.status === 200 && r.body === "success", receiverStatus: r.status, receiverBody: r.body.slice(0, 200), elapsedMs: Math.round(r.elapsedMs), late: r.late }),
      (err: Error) => sendJson(res, { error: err.message }, undefined, err instanceof SuiteStateError ? 409 : 502),
    );

  switch (`${method} ${action}`) {
    case "POST push-ticket":
      return answer(() => suite.pushTicket());
    case "POST verify-url":
      return void suite.verifyUrl().then(
        (r) => sendJson(res, r),
        (err: Error) => sendJson(res, { error: err.message }, undefined, err instanceof SuiteStateError ? 409 : 502),
      );
    case "POST install": {
      const via = q.get("via") ?? "push";
      if (via !== "push" && via !== "redirect") return sendJson(res, { error: "via must be push or redirect" }, undefined, 400);
      if (via === "push") return answer(() => suite.install(corpId!));
      try {
        const { authCode, expiresAt } = suite.installByRedirect(corpId!);
        return sendJson(res, { ok: true, authCode, expiresAt: Math.floor(expiresAt / 1000) });
      } catch (err) {
        return sendJson(res, { error: (err as Error).message }, undefined, 409);
      }
    }
    case "POST change":
      return answer(() => suite.change(corpId!, q.has("agentname") ? { agentName: q.get("agentname")! } : {}));
    case "POST cancel":
      return answer(() => suite.cancel(corpId!));
    case "POST reset":
      return answer(() => suite.resetPermanentCode(corpId!));
    case "POST fail": {
      const errcode = Number(q.get("errcode"));
      const times = q.has("times") ? Number(q.get("times")) : 1;
      if (!Number.isInteger(errcode) || errcode === 0) return sendJson(res, { error: "errcode must be a non-zero integer" }, undefined, 400);
      if (!Number.isInteger(times) || times < 1 || times > MAX_TIMES) return sendJson(res, { error: `times must be an integer from 1 to ${MAX_TIMES}` }, undefined, 400);
      try {
        suite.failNext(errcode, { times, ...(q.has("path") ? { path: q.get("path")! } : {}), ...(corpId ? { corpId } : {}) });
      } catch (err) {
        return sendJson(res, { error: (err as Error).message }, undefined, 400);
      }
      return sendJson(res, { ok: true });
    }
    case "GET corps":
      return sendJson(res, { corps: suite.installedCorps().map((id) => suite.corp(id)) });
    default:
      return sendJson(res, { error: `no control endpoint ${method} ${url.pathname}` }, undefined, 404);
  }
}

/**
 * No secret of a WeCom suite chain in any output: the suite secret, the
 * provider secret, the callback Token and EncodingAESKey, the corps'
 * permanent codes (a 代开发 one is the corp's app secret), every pushed
 * suite_ticket, the authorization codes, and the suite, provider and corp
 * tokens and tickets. Every surface an operator or a client reads is
 * collected after the chain ran (and failed in the ways it can): the log,
 * /metrics, /status and /status.json, ListAuthorizers and ListCredentials
 * over gRPC and HTTP, and the error messages clients get.
 */
import { Metadata, type ServiceError } from "@grpc/grpc-js";
import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { AuthorizeByCodeRequest, ListCredentialsRequest, type AuthorizeByCodeResponse, type ListCredentialsResponse } from "../../generated/wxtoken/v1/token_service.js";
import { statusDetailsOf } from "../../packages/client/src/status-details.js";
import { eventually, grpcError } from "../support/harness.js";
import { AES_KEY, CALLBACK_TOKEN, CORP1, CORP2, DK, PROVIDER, PROVIDER_SECRET, SUITE, SUITE_SECRET, SuiteHarness } from "../support/suite-platform.js";
import { pushFirstTicket } from "../support/suite-ticket.js";

let running: SuiteHarness | undefined;
afterEach(async () => {
  await running?.stop();
  running = undefined;
});

function authorize(s: SuiteHarness, platformId: string, authCode: string): Promise<AuthorizeByCodeResponse> {
  return new Promise((resolve, reject) =>
    s.h.client.authorizeByCode(AuthorizeByCodeRequest.fromPartial({ platformId, authCode }), new Metadata(), { deadline: Date.now() + 5000 }, (err, res) => (err ? reject(err) : resolve(res))),
  );
}

function listCredentials(s: SuiteHarness): Promise<ListCredentialsResponse> {
  return new Promise((resolve, reject) =>
    s.h.client.listCredentials(ListCredentialsRequest.fromPartial({ pageSize: 1000 }), new Metadata(), { deadline: Date.now() + 5000 }, (err, res) => (err ? reject(err) : resolve(res))),
  );
}

async function get(url: string): Promise<string> {
  const res = await request(url);
  return res.body.text();
}

/** Everything a client hears when a call fails: status, message and the status details. */
function errorText(err: ServiceError): string {
  return JSON.stringify({ code: err.code, message: err.message, details: err.details, metadata: err.metadata.toJSON(), statusDetails: statusDetailsOf(err.metadata) });
}

describe("a WeCom suite chain's outputs", () => {
  it("carry no secret, permanent code, ticket, code or token: logs, metrics, status, listings, errors", async () => {
    const s = (running = await SuiteHarness.start({ config: { metrics: { listen: "127.0.0.1:0" }, http: { listen: "127.0.0.1:0" } } }));
    const api = `http://127.0.0.1:${s.h.server.httpPort}`;
    const metrics = `http://127.0.0.1:${s.h.server.metricsPort}`;
    const errors: string[] = [];
    const secrets: string[] = [SUITE_SECRET, PROVIDER_SECRET, CALLBACK_TOKEN, AES_KEY];

    // No ticket yet: NO_SUITE_TICKET, over gRPC and HTTP.
    const noTicket = await grpcError(s.h.get({ appId: SUITE }, 300));
    expect(noTicket.message).toContain("no suite_ticket is held");
    errors.push(errorText(noTicket), await get(`${api}/v1/apps/${SUITE}/token`));

    await pushFirstTicket(s);
    await pushFirstTicket(s, [s], DK);
    const tickets = [s.suite().currentTicket()!, s.suite(DK).currentTicket()!];
    // CORP1 installs by push; CORP2 by redirect code (AuthorizeByCode); CORP1 also the 代开发 app (its permanent code is its secret).
    const pushed = await s.suite().install(CORP1);
    const redirect = s.suite().installByRedirect(CORP2).authCode;
    expect((await authorize(s, SUITE, redirect)).appId).toBe(CORP2);
    const dk = await s.suite(DK).install(CORP1);
    await eventually(async () => {
      await s.clock.advance(0);
      for (const [corp, platformId] of [[CORP1, SUITE], [CORP2, SUITE], [CORP1, DK]] as const) await s.h.get({ appId: corp, platformId }, 300);
    });
    const codes = [pushed.authCode, redirect, dk.authCode];
    secrets.push(...codes, s.suite().permanentCodeOf(CORP1)!, s.suite().permanentCodeOf(CORP2)!, s.suite(DK).permanentCodeOf(CORP1)!, ...tickets);

    // The tokens and tickets clients are handed.
    for (const [appId, platformId] of [[SUITE, ""], [DK, ""], [PROVIDER, ""], [CORP1, SUITE], [CORP2, SUITE], [CORP1, DK]] as const) {
      secrets.push((await s.h.get({ appId, platformId })).token!.accessToken);
    }
    // CREDENTIAL_KIND_JSAPI_TICKET, CREDENTIAL_KIND_AGENT_CONFIG_TICKET.
    for (const kind of [2, 4]) secrets.push((await s.h.get({ appId: CORP1, platformId: SUITE, kind })).token!.accessToken);

    // The ways it fails: a used code (40078), a corp WeCom no longer authorizes (48004), a push with a bad signature.
    const used = await grpcError(authorize(s, SUITE, `${redirect}x`));
    errors.push(errorText(used));
    const httpUsed = await request(`${api}/v1/platforms/${SUITE}/authorizations`, { method: "POST", body: JSON.stringify({ authCode: pushed.authCode }), headers: { "content-type": "application/json" } });
    errors.push(await httpUsed.body.text());
    s.suite().failNext(48004, { corpId: CORP2, times: 5 });
    const stale = (await s.h.get({ appId: CORP2, platformId: SUITE })).token!.accessToken;
    errors.push(errorText(await grpcError(s.h.refresh({ appId: CORP2, platformId: SUITE, staleToken: stale }))));
    await eventually(async () => {
      errors.push(errorText(await grpcError(s.h.get({ appId: CORP2, platformId: SUITE }, 300))));
    });
    const bad = await request(`${s.pushUrl()}?msg_signature=${"0".repeat(40)}&timestamp=${Math.floor(s.clock.now() / 1000)}&nonce=1`, {
      method: "POST",
      body: `<xml><ToUserName><![CDATA[${SUITE}]]></ToUserName><Encrypt><![CDATA[AAAA]]></Encrypt></xml>`,
    });
    expect(bad.statusCode).toBe(403);
    errors.push(await bad.body.text());

    const outputs: Record<string, string> = {
      logs: s.h.logs.text(),
      metrics: await get(`${metrics}/metrics`),
      status: await get(`${metrics}/status`),
      statusJson: await get(`${metrics}/status.json`),
      listAuthorizers: JSON.stringify(await s.list()) + JSON.stringify(await s.list({ componentAppId: DK })),
      listAuthorizersHttp: (await get(`${api}/v1/platforms/${SUITE}/authorizers`)) + (await get(`${api}/v1/platforms/${DK}/authorizers`)),
      listCredentials: JSON.stringify(await listCredentials(s)),
      listCredentialsHttp: await get(`${api}/v1/credentials?pageSize=1000`),
      errors: errors.join("\n"),
    };
    // Each output is about the chain (a test that read empty pages would prove nothing).
    expect(outputs.metrics).toContain(`wxtoken_platform_ticket_age_seconds{platform="${SUITE}",family="wecom_suite"}`);
    expect(outputs.statusJson).toContain(`${CORP1}`);
    expect(outputs.statusJson).toContain(SUITE);
    expect(outputs.listAuthorizers).toContain(CORP2);
    expect(outputs.listAuthorizersHttp).toContain(CORP2);
    expect(outputs.listCredentials).toContain(DK);
    expect(outputs.listCredentialsHttp).toContain(PROVIDER);
    expect(outputs.errors).toContain("NO_SUITE_TICKET");
    expect(outputs.errors).toContain("NEEDS_REAUTHORIZATION");
    expect(outputs.logs).toContain("corp installed the app: permanent code stored");

    const leaks: string[] = [];
    for (const [where, text] of Object.entries(outputs)) {
      for (const [i, secret] of secrets.entries()) if (text.includes(secret)) leaks.push(`${where}: secret #${i}`);
    }
    expect(leaks).toEqual([]);
  });
});

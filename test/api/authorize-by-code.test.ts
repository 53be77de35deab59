/**
 * AuthorizeByCode end to end: a business server hands the server the
 * auth_code WeChat appended to its redirect_uri (an authorization started on
 * its own site, which WeChat pushes no event for), over gRPC and over the
 * HTTP route, against the real server and the fake WeChat over real HTTP.
 * The code is exchanged (api_query_auth, get_permanent_code), the tenant
 * listed and its token served; every refusal answers the status the
 * contract documents, and neither the code nor the secret it bought shows
 * in an answer or a log line.
 */
import { Metadata, status, type ServiceError } from "@grpc/grpc-js";
import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { AuthorizeByCodeRequest, AuthorizerStatus, type AuthorizeByCodeResponse } from "../../generated/wxtoken/v1/token_service.js";
import { clientOptions } from "../../packages/client/src/client-credentials.js";
import { statusDetailsOf } from "../../packages/client/src/status-details.js";
import { TokenClient } from "../../packages/client/src/token-client.js";
import { generateApiKey, hashApiKey } from "../../src/auth/api-key.js";
import { eventually, grpcError } from "../support/harness.js";
import { AUTH1, AUTH2, COMPONENT, PlatformHarness } from "../support/platform.js";
import { CORP1, CORP2, SUITE, SuiteHarness } from "../support/suite-platform.js";

let running: { stop(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(running.map((r) => r.stop()));
  running = [];
});

/** An Open Platform with its ticket pushed, its component token held and its first (empty) authorizer list read. */
async function platform(o: Parameters<typeof PlatformHarness.start>[0] = {}): Promise<PlatformHarness> {
  const p = await PlatformHarness.start({ ...o, config: { http: { listen: "127.0.0.1:0" }, ...o.config } });
  running.push(p);
  await p.fake.component.pushTicket();
  await eventually(async () => {
    await p.clock.advance(0);
    await p.h.getToken(COMPONENT, 300);
    expect(p.calls("api_get_authorizer_list")).toBe(1);
  });
  return p;
}

/** A code for the account as WeChat hands it to the redirect_uri: nothing is pushed. */
function redirectCode(p: PlatformHarness, appId: string): string {
  return p.fake.component.state.authorize(appId).code;
}

/** A caller's deadline is how long it waits for the platform's own token (as for GetToken): short, it fails at once. */
function authorize(p: { h: PlatformHarness["h"] }, platformId: string, authCode: string, deadlineMs = 5000): Promise<AuthorizeByCodeResponse> {
  return new Promise((resolve, reject) =>
    p.h.client.authorizeByCode(AuthorizeByCodeRequest.fromPartial({ platformId, authCode }), new Metadata(), { deadline: Date.now() + deadlineMs }, (err, res) =>
      err ? reject(err) : resolve(res),
    ),
  );
}

function reasonOf(err: ServiceError): string | undefined {
  return statusDetailsOf(err.metadata)?.errorInfo?.reason;
}

async function post(url: string, body: unknown): Promise<{ status: number; json: Record<string, unknown>; text: string }> {
  const res = await request(url, { method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json" } });
  const text = await res.body.text();
  return { status: res.statusCode, json: JSON.parse(text) as Record<string, unknown>, text };
}

/** The ErrorInfo reason of a JSON google.rpc.Status. */
function jsonReason(json: Record<string, unknown>): unknown {
  return (json["details"] as Record<string, unknown>[] | undefined)?.find((d) => d["@type"] === "type.googleapis.com/google.rpc.ErrorInfo")?.["reason"];
}

describe("AuthorizeByCode on an Open Platform", () => {
  it("gRPC: exchanges the redirect code, lists the account and serves its token; a retry gets the same account, a code WeChat never issued is refused", async () => {
    const p = await platform();
    const code = redirectCode(p, AUTH1);
    const answer = await authorize(p, COMPONENT, code);
    expect(answer).toEqual({ platformId: COMPONENT, appId: AUTH1, authorizedAt: new Date(p.clock.now()) });
    expect(p.calls("api_query_auth")).toBe(1);

    const listed = await p.list();
    expect(listed.authorizers.map((a) => [a.appId, a.status])).toEqual([[AUTH1, AuthorizerStatus.AUTHORIZER_STATUS_ACTIVE]]);
    const token = (await p.h.getToken(AUTH1)).token!;
    expect(p.fake.component.isAuthorizerTokenValid(AUTH1, token.accessToken)).toBe(true);
    expect(token.platformId).toBe("");
    // The token query_auth handed out is the one served.
    expect(p.calls("api_authorizer_token")).toBe(0);

    // A code works once at WeChat: a business server retrying (after a timeout, say) gets the account the first call authorized, and WeChat is not asked again.
    expect(await authorize(p, COMPONENT, code)).toEqual(answer);
    expect(p.calls("api_query_auth")).toBe(1);
    // One WeChat never issued (or used elsewhere) is its 61009.
    const used = await grpcError(authorize(p, COMPONENT, "queryauthcode@@@neverissued"));
    expect(used.code).toBe(status.FAILED_PRECONDITION);
    expect(statusDetailsOf(used.metadata)?.errorInfo?.metadata["errcode"]).toBe("61009");
    const unknown = used;

    // Neither the code nor the refresh token it bought is in an answer or a log line.
    const refreshToken = p.fake.component.refreshTokenOf(AUTH1)!;
    const logs = p.h.logs.text();
    for (const secret of [code, refreshToken]) {
      expect(logs).not.toContain(secret);
      expect(JSON.stringify(answer)).not.toContain(secret);
      expect(used.message + unknown.message).not.toContain(secret);
    }
    expect(logs).toContain("authorized by a redirect code");
  });

  it("an expired code is FAILED_PRECONDITION (61010), and the account is not held", async () => {
    const p = await platform();
    const code = redirectCode(p, AUTH2);
    await p.clock.advance(3_600_000);
    const err = await grpcError(authorize(p, COMPONENT, code));
    expect(err.code).toBe(status.FAILED_PRECONDITION);
    expect(statusDetailsOf(err.metadata)?.errorInfo?.metadata["errcode"]).toBe("61010");
    expect((await p.list()).authorizers).toEqual([]);
  });

  it("HTTP: POST /v1/platforms/{platform_id}/authorizations with the code in the body, in proto3 JSON", async () => {
    const p = await platform();
    const base = `http://127.0.0.1:${p.h.server.httpPort}/v1/platforms`;
    const code = redirectCode(p, AUTH1);
    const ok = await post(`${base}/${COMPONENT}/authorizations`, { authCode: code });
    expect(ok.status).toBe(200);
    expect(ok.json).toEqual({ platformId: COMPONENT, appId: AUTH1, authorizedAt: new Date(p.clock.now()).toISOString() });
    const token = (await p.h.getToken(AUTH1)).token!;
    expect(p.fake.component.isAuthorizerTokenValid(AUTH1, token.accessToken)).toBe(true);
    // The proto field names work as well, and the platform is the path's whatever the body says.
    const second = await post(`${base}/${COMPONENT}/authorizations`, { auth_code: redirectCode(p, AUTH2), platform_id: "wxnosuchplatform" });
    expect([second.status, second.json["platformId"], second.json["appId"]]).toEqual([200, COMPONENT, AUTH2]);

    // The same code again (a retried request) answers the same account, with no call to WeChat.
    const used = await post(`${base}/${COMPONENT}/authorizations`, { authCode: code });
    expect([used.status, used.json["appId"]]).toEqual([200, AUTH1]);
    const missing = await post(`${base}/${COMPONENT}/authorizations`, {});
    expect([missing.status, missing.json["code"], jsonReason(missing.json)]).toEqual([400, status.INVALID_ARGUMENT, "INVALID_AUTH_CODE"]);
    const unknown = await post(`${base}/wxnosuchplatform/authorizations`, { authCode: "queryauthcode@@@x" });
    expect([unknown.status, unknown.json["code"], jsonReason(unknown.json)]).toEqual([404, status.NOT_FOUND, "UNKNOWN_PLATFORM"]);
    const malformed = await post(`${base}/bad%20id/authorizations`, { authCode: "queryauthcode@@@x" });
    expect([malformed.status, jsonReason(malformed.json)]).toEqual([400, "INVALID_PLATFORM_ID"]);
    expect(p.calls("api_query_auth")).toBe(2);
    for (const r of [ok, second, used, missing, unknown]) expect(r.text).not.toContain(p.fake.component.refreshTokenOf(AUTH1)!);
  });

  it.each([
    ["an empty code", COMPONENT, "", status.INVALID_ARGUMENT, "INVALID_AUTH_CODE"],
    ["a code over 512 characters", COMPONENT, `queryauthcode@@@${"x".repeat(497)}`, status.INVALID_ARGUMENT, "INVALID_AUTH_CODE"],
    ["a code with a space", COMPONENT, "queryauthcode@@@a b", status.INVALID_ARGUMENT, "INVALID_AUTH_CODE"],
    ["a code with a control character", COMPONENT, "queryauthcode@@@a\nb", status.INVALID_ARGUMENT, "INVALID_AUTH_CODE"],
    ["no platform_id", "", "queryauthcode@@@x", status.INVALID_ARGUMENT, "INVALID_PLATFORM_ID"],
    ["a malformed platform_id", "wx/component", "queryauthcode@@@x", status.INVALID_ARGUMENT, "INVALID_PLATFORM_ID"],
    ["a platform_id over 128 characters", "w".repeat(129), "queryauthcode@@@x", status.INVALID_ARGUMENT, "INVALID_PLATFORM_ID"],
    ["an unknown platform", "wxnosuchplatform", "queryauthcode@@@x", status.NOT_FOUND, "UNKNOWN_PLATFORM"],
  ])("%s", async (_what, platformId, code, wantCode, wantReason) => {
    const p = await platform();
    const err = await grpcError(authorize(p, platformId, code));
    expect([err.code, reasonOf(err)]).toEqual([wantCode, wantReason]);
    // Refused before WeChat is asked, and never echoed.
    expect(p.calls("api_query_auth")).toBe(0);
    if (code.length > 20) expect(err.message).not.toContain(code);
  });

  it("a 512-character code is long enough: it reaches WeChat (which refuses it)", async () => {
    const p = await platform();
    const err = await grpcError(authorize(p, COMPONENT, `queryauthcode@@@${"x".repeat(496)}`));
    expect(err.code).toBe(status.FAILED_PRECONDITION);
    expect(p.calls("api_query_auth")).toBe(1);
  });

  it("with no verify ticket yet it is UNAVAILABLE (NO_VERIFY_TICKET): retry with the same code while it is valid", async () => {
    // WeChat never pushes: no ticket, so no component token.
    const p = await PlatformHarness.start({ faults: [{ path: "/cgi-bin/component/api_start_push_ticket", errcode: -1, times: Infinity }] });
    running.push(p);
    const code = redirectCode(p, AUTH1);
    const err = await grpcError(authorize(p, COMPONENT, code, 300));
    expect([err.code, reasonOf(err)]).toEqual([status.UNAVAILABLE, "NO_VERIFY_TICKET"]);
    expect(p.calls("api_query_auth")).toBe(0);
    // Once a ticket arrives the same code works.
    await p.fake.component.pushTicket();
    await eventually(async () => {
      await p.clock.advance(0);
      await p.h.getToken(COMPONENT, 300);
    });
    expect((await authorize(p, COMPONENT, code)).appId).toBe(AUTH1);
  });

  it("needs a refresh grant on the platform: a read grant, a grant on an authorizer or none is PERMISSION_DENIED, an unknown platform too", async () => {
    const keys = { refresher: generateApiKey(), reader: generateApiKey(), merchant: generateApiKey() };
    const p = await platform({
      apiKey: keys.refresher,
      config: {
        auth: {
          clients: [
            { name: "platform-svc", apiKeySha256: hashApiKey(keys.refresher), read: [COMPONENT], refresh: [COMPONENT] },
            { name: "dashboard", apiKeySha256: hashApiKey(keys.reader), read: [COMPONENT] },
            { name: "merchant-svc", apiKeySha256: hashApiKey(keys.merchant), read: [AUTH1], refresh: [AUTH1] },
          ],
        },
      },
    });
    for (const key of [keys.reader, keys.merchant]) {
      const client = new TokenClient(`127.0.0.1:${p.h.port}`, { channelOptions: clientOptions({ apiKey: key }) });
      try {
        await expect(client.authorizeByCode(COMPONENT, redirectCode(p, AUTH1))).rejects.toMatchObject({ codeName: "PERMISSION_DENIED" });
        // The same answer whether the platform exists or not.
        await expect(client.authorizeByCode("wxnosuchplatform", "queryauthcode@@@x")).rejects.toMatchObject({ codeName: "PERMISSION_DENIED" });
      } finally {
        client.close();
      }
    }
    expect(p.calls("api_query_auth")).toBe(0);
    // The harness client holds the refresh grant.
    expect((await authorize(p, COMPONENT, redirectCode(p, AUTH1))).appId).toBe(AUTH1);
  });
});

describe("AuthorizeByCode on a WeCom suite", () => {
  async function suite(): Promise<SuiteHarness> {
    const s = await SuiteHarness.start();
    running.push(s);
    return s;
  }

  it("with no suite_ticket it is UNAVAILABLE (NO_SUITE_TICKET); then the install is exchanged and the corp served through the suite; a code used by a push is FAILED_PRECONDITION (40078)", async () => {
    const s = await suite();
    const { authCode } = s.suite().installByRedirect(CORP1);
    const early = await grpcError(authorize(s, SUITE, authCode, 300));
    expect([early.code, reasonOf(early)]).toEqual([status.UNAVAILABLE, "NO_SUITE_TICKET"]);

    await s.suite().pushTicket();
    const answer = await authorize(s, SUITE, authCode);
    expect(answer).toMatchObject({ platformId: SUITE, appId: CORP1 });
    expect((await s.list()).authorizers.map((a) => a.appId)).toEqual([CORP1]);
    const token = (await s.h.get({ appId: CORP1, platformId: SUITE })).token!;
    expect(token).toMatchObject({ appId: CORP1, platformId: SUITE });

    // A retry gets the same corp; a code the server exchanged for a create_auth push is used at WeCom.
    expect(await authorize(s, SUITE, authCode)).toEqual(answer);
    const pushed = await s.suite().install(CORP2);
    await eventually(async () => expect((await s.list()).authorizers.map((a) => a.appId)).toEqual([CORP1, CORP2]));
    const used = await grpcError(authorize(s, SUITE, pushed.authCode));
    expect(used.code).toBe(status.FAILED_PRECONDITION);
    expect(statusDetailsOf(used.metadata)?.errorInfo?.metadata["errcode"]).toBe("40078");
    const permanentCode = s.suite().permanentCodeOf(CORP1)!;
    for (const text of [s.h.logs.text(), JSON.stringify(answer), used.message]) {
      expect(text).not.toContain(authCode);
      expect(text).not.toContain(permanentCode);
    }
  });
});

/**
 * platform_id: naming a corp's credential through a WeCom suite, on every
 * method that names a credential (GetToken, ForceRefresh, WatchToken,
 * SignJsSdk), over gRPC and HTTP, against the real server with the fake
 * WeChat's suites pushing over real HTTP. A malformed platform_id is
 * INVALID_ARGUMENT, an unknown platform NOT_FOUND (after the permission
 * check), a corp the suite does not hold NOT_FOUND naming both; answers
 * carry the platform_id back; a grant on the suite covers its corps and
 * nothing else; ListAuthorizers shows a suite's corps and SyncAuthorizers
 * says a suite has no list to read.
 */
import { Metadata, status, type ServiceError } from "@grpc/grpc-js";
import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import {
  ForceRefreshRequest,
  SignJsSdkRequest,
  SignatureKind,
  SyncAuthorizersRequest,
  WatchTokenRequest,
  type SyncAuthorizersResponse,
} from "../../generated/wxtoken/v1/token_service.js";
import { clientOptions } from "../../packages/client/src/client-credentials.js";
import { statusDetailsOf } from "../../packages/client/src/status-details.js";
import { TokenClient } from "../../packages/client/src/token-client.js";
import { generateApiKey, hashApiKey } from "../../src/auth/api-key.js";
import { collect, eventually, grpcError } from "../support/harness.js";
import { AUTH1, COMPONENT, PlatformHarness } from "../support/platform.js";
import { CORP1, CORP2, DK, SUITE, SuiteHarness, type SuiteHarnessOptions } from "../support/suite-platform.js";

const SELF_AGENT = "1000002";
const SELF_SECRET = "self-built-secret-NEVER-LEAK";

let running: { stop(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(running.map((r) => r.stop()));
  running = [];
});

/**
 * Both suites with their tickets pushed, CORP1 installed through SUITE and
 * also configured as a self-built corp; CORP2 installed nowhere. An HTTP
 * listener besides gRPC.
 */
async function installed(o: SuiteHarnessOptions = {}): Promise<SuiteHarness> {
  const s = await SuiteHarness.start({
    ...o,
    apps: [{ type: "wecom", corpId: CORP1, agent: SELF_AGENT, secretEnv: "SELF_SECRET" }],
    env: { SELF_SECRET, ...o.env },
    fake: { wecom: { [CORP1]: { [SELF_AGENT]: SELF_SECRET } } },
    config: { http: { listen: "127.0.0.1:0" }, ...o.config },
  });
  running.push(s);
  await s.suite(SUITE).pushTicket();
  await s.suite(DK).pushTicket();
  await s.suite(SUITE).install(CORP1);
  await eventually(async () => expect((await s.h.get({ appId: CORP1, platformId: SUITE }, 300)).token!.platformId).toBe(SUITE));
  return s;
}

function reasonOf(err: ServiceError): string | undefined {
  return statusDetailsOf(err.metadata)?.errorInfo?.reason;
}

/** The four methods that name a credential, each called with the same naming fields. */
const METHODS: Record<string, (s: SuiteHarness, naming: { appId: string; platformId: string; agent?: string }) => Promise<unknown>> = {
  GetToken: (s, n) => s.h.get(n, 2000),
  ForceRefresh: (s, n) => s.h.refresh(ForceRefreshRequest.fromPartial({ ...n, staleToken: "stale-token" }), 2000),
  SignJsSdk: (s, n) => s.h.sign(SignJsSdkRequest.fromPartial({ ...n, url: "https://h5.example.com/page" }), 2000),
  WatchToken: async (s, n) => {
    const stream = collect(s.h.client.watchToken(WatchTokenRequest.fromPartial(n)));
    const ended = await stream.ended;
    if (ended) throw ended;
  },
};

describe("platform_id", () => {
  it.each(Object.keys(METHODS))("%s: malformed INVALID_ARGUMENT, unknown platform NOT_FOUND, with an agent INVALID_ARGUMENT, a corp the suite does not hold NOT_FOUND", async (method) => {
    const s = await installed();
    const call = METHODS[method]!;
    for (const bad of ["bad id", "dk/1", "x".repeat(129)]) {
      const err = await grpcError(call(s, { appId: CORP1, platformId: bad }));
      expect([err.code, reasonOf(err)], bad).toEqual([status.INVALID_ARGUMENT, "INVALID_PLATFORM_ID"]);
    }
    const unknown = await grpcError(call(s, { appId: CORP1, platformId: "wwnosuchsuite0001" }));
    expect([unknown.code, reasonOf(unknown)]).toEqual([status.NOT_FOUND, "UNKNOWN_PLATFORM"]);
    expect(unknown.message).toContain("wwnosuchsuite0001");
    expect(statusDetailsOf(unknown.metadata)?.errorInfo?.metadata["platform_id"]).toBe("wwnosuchsuite0001");
    const withAgent = await grpcError(call(s, { appId: CORP1, platformId: SUITE, agent: SELF_AGENT }));
    expect([withAgent.code, reasonOf(withAgent)]).toEqual([status.INVALID_ARGUMENT, "INVALID_AGENT"]);
    // CORP2 installed nothing; CORP1 did not install DK.
    for (const [corp, suite] of [[CORP2, SUITE], [CORP1, DK]] as const) {
      const err = await grpcError(call(s, { appId: corp, platformId: suite }));
      expect([err.code, reasonOf(err)], `${corp}@${suite}`).toEqual([status.NOT_FOUND, "UNKNOWN_APP"]);
      expect(err.message).toContain(corp);
      expect(err.message).toContain(suite);
    }
  });

  it("answers carry the platform_id: Token (GetToken, ForceRefresh, WatchToken) and SignJsSdkResponse; without it the self-built corp's token, another", async () => {
    const s = await installed();
    const viaSuite = (await s.h.get({ appId: CORP1, platformId: SUITE })).token!;
    expect(viaSuite).toMatchObject({ appId: CORP1, platformId: SUITE, agent: "" });
    const selfBuilt = (await s.h.get({ appId: CORP1, agent: SELF_AGENT })).token!;
    expect(selfBuilt).toMatchObject({ appId: CORP1, platformId: "", agent: SELF_AGENT });
    expect(selfBuilt.accessToken).not.toBe(viaSuite.accessToken);

    const refreshed = await s.h.refresh({ appId: CORP1, platformId: SUITE, staleToken: "not-the-current-one" });
    expect(refreshed).toMatchObject({ refreshed: false, token: { appId: CORP1, platformId: SUITE, accessToken: viaSuite.accessToken } });
    const stream = collect(s.h.client.watchToken(WatchTokenRequest.fromPartial({ appId: CORP1, platformId: SUITE })));
    await eventually(() => expect(stream.messages[0]?.token).toMatchObject({ appId: CORP1, platformId: SUITE, version: viaSuite.version }));
    const signed = await s.h.sign({ appId: CORP1, platformId: SUITE, kind: SignatureKind.SIGNATURE_KIND_CONFIG, url: "https://h5.example.com/page" });
    expect(signed).toMatchObject({ appId: CORP1, platformId: SUITE, agent: "" });
    const self = await s.h.sign({ appId: CORP1, url: "https://h5.example.com/page" }).catch((e: ServiceError) => e);
    // The self-built corp has no jsapi ticket configured: its own answer, not the suite's ticket.
    expect(self).toMatchObject({ code: status.NOT_FOUND });
  });

  it("HTTP: platform_id as a query parameter on GET, in the body on POST; answers carry platformId", async () => {
    const s = await installed();
    const base = `http://127.0.0.1:${s.h.server.httpPort}/v1/apps/${CORP1}`;
    const get = async (query: string) => {
      const res = await request(`${base}/token${query}`);
      return { status: res.statusCode, json: (await res.body.json()) as Record<string, any> };
    };
    const ok = await get(`?platform_id=${SUITE}`);
    expect(ok.status).toBe(200);
    expect(ok.json["token"]).toMatchObject({ appId: CORP1, platformId: SUITE });
    expect((await get(`?platformId=${SUITE}`)).json["token"]["platformId"]).toBe(SUITE);
    expect((await get(`?agent=${SELF_AGENT}`)).json["token"]).not.toHaveProperty("platformId");
    const bad = await get("?platform_id=bad%20id");
    expect([bad.status, bad.json["code"]]).toEqual([400, status.INVALID_ARGUMENT]);
    const unknown = await get("?platform_id=wwnosuchsuite0001");
    expect([unknown.status, unknown.json["code"]]).toEqual([404, status.NOT_FOUND]);
    expect(JSON.stringify(unknown.json)).toContain("UNKNOWN_PLATFORM");

    const refresh = await request(`${base}/token:refresh`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ staleToken: "not-the-current-one", platformId: SUITE }),
    });
    expect(refresh.statusCode).toBe(200);
    expect(((await refresh.body.json()) as Record<string, any>)["token"]).toMatchObject({ appId: CORP1, platformId: SUITE });
    const sign = await request(`${base}/jssdk:sign`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ url: "https://h5.example.com/page", platform_id: SUITE }),
    });
    expect(sign.statusCode).toBe(200);
    expect(await sign.body.json()).toMatchObject({ appId: CORP1, platformId: SUITE });
  });

  it("grants: one on the suite covers its corps only; one on the corp (self-built) does not reach it through the suite; an unknown platform is denied alike", async () => {
    const keys = { suite: generateApiKey(), corp: generateApiKey() };
    const s = await installed({
      apiKey: keys.suite,
      config: {
        auth: {
          clients: [
            { name: "suite-svc", apiKeySha256: hashApiKey(keys.suite), read: [SUITE], refresh: [SUITE], sign: [SUITE] },
            { name: "corp-svc", apiKeySha256: hashApiKey(keys.corp), read: [CORP1], refresh: [CORP1] },
          ],
        },
      },
    });
    // The harness client is suite-svc.
    expect((await s.h.get({ appId: CORP1, platformId: SUITE })).token!.platformId).toBe(SUITE);
    expect((await s.h.sign({ appId: CORP1, platformId: SUITE, url: "https://h5.example.com/page" })).platformId).toBe(SUITE);
    for (const naming of [{ appId: CORP1, agent: SELF_AGENT }, { appId: CORP1, platformId: DK }, { appId: CORP1, platformId: "wwnosuchsuite0001" }]) {
      const err = await grpcError(s.h.get(naming));
      expect(err.code, JSON.stringify(naming)).toBe(status.PERMISSION_DENIED);
    }
    const corp = new TokenClient(`127.0.0.1:${s.h.port}`, { channelOptions: clientOptions({ apiKey: keys.corp }) });
    try {
      expect((await corp.getToken(CORP1, { agent: SELF_AGENT })).agent).toBe(SELF_AGENT);
      await expect(corp.getToken(CORP1, { platformId: SUITE })).rejects.toMatchObject({ codeName: "PERMISSION_DENIED" });
      await expect(corp.getToken(CORP1, { platformId: "wwnosuchsuite0001" })).rejects.toMatchObject({ codeName: "PERMISSION_DENIED" });
      await expect(corp.watch(CORP1, { platformId: SUITE }).next()).rejects.toMatchObject({ codeName: "PERMISSION_DENIED" });
    } finally {
      corp.close();
    }
  });

  it("ListAuthorizers shows a suite's installed corps with their tokens; SyncAuthorizers on a suite is FAILED_PRECONDITION (SYNC_NOT_SUPPORTED)", async () => {
    const s = await installed();
    const token = (await s.h.get({ appId: CORP1, platformId: SUITE })).token!;
    const suiteToken = (await s.h.get({ appId: SUITE })).token!;
    const listed = await s.list();
    expect(listed.componentAppId).toBe(SUITE);
    expect([listed.componentTokenVersion, listed.componentTokenFingerprint]).toEqual([suiteToken.version, suiteToken.fingerprint]);
    expect(listed.authorizers.map((a) => [a.appId, a.tokenVersion, a.tokenFingerprint])).toEqual([[CORP1, token.version, token.fingerprint]]);
    expect(listed.verifyTicketReceivedAt).toBeInstanceOf(Date);

    const err = await grpcError(
      new Promise<SyncAuthorizersResponse>((resolve, reject) =>
        s.h.client.syncAuthorizers(SyncAuthorizersRequest.fromPartial({ componentAppId: SUITE }), new Metadata(), (e, res) => (e ? reject(e) : resolve(res))),
      ),
    );
    expect([err.code, reasonOf(err)]).toEqual([status.FAILED_PRECONDITION, "SYNC_NOT_SUPPORTED"]);
    expect(err.message).toMatch(/WeCom has no API that lists a suite's installed corps/);
    const http = await request(`http://127.0.0.1:${s.h.server.httpPort}/v1/platforms/${SUITE}/authorizers:sync`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    expect(http.statusCode).toBe(400);
    expect(JSON.stringify(await http.body.json())).toContain("SYNC_NOT_SUPPORTED");
  });
});

describe("platform_id with an Open Platform", () => {
  it("an authorizer is named by its appid alone: with the component appid as platform_id it is NOT_FOUND, saying so", async () => {
    const p = await PlatformHarness.start();
    running.push(p);
    await p.fake.component.pushTicket();
    await eventually(async () => {
      await p.clock.advance(0);
      await p.h.getToken(COMPONENT, 300);
    });
    await p.fake.component.authorize(AUTH1);
    expect((await p.h.getToken(AUTH1)).token!.platformId).toBe("");
    const err = await grpcError(p.h.get({ appId: AUTH1, platformId: COMPONENT }));
    expect([err.code, reasonOf(err)]).toEqual([status.NOT_FOUND, "UNKNOWN_APP"]);
    expect(err.message).toMatch(/leave platform_id empty/);
  });
});

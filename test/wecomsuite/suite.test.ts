/**
 * A WeCom suite end to end over real HTTP: the fake pushes suite_tickets and
 * installs to the server's receiver, the server exchanges the codes, and the
 * corps' tokens and tickets are served over gRPC, counted in upstream calls.
 */
import { createHash } from "node:crypto";
import { Metadata, status } from "@grpc/grpc-js";
import { statusDetailsOf } from "../../packages/client/src/status-details.js";
import { afterEach, describe, expect, it } from "vitest";
import { CredentialKind, ListAuthorizersRequest, ListCredentialsRequest, SignatureKind, WatchTokenRequest, type ListCredentialsResponse } from "../../generated/wxtoken/v1/token_service.js";
import type { PlatformStore } from "../../src/platform/store.js";
import { request } from "undici";
import { computeSignature, encrypt } from "../../src/platform/crypto.js";
import { SuitePlatform } from "../../src/wecomsuite/suite.js";
import { appHealthName } from "../../src/wxtoken.js";
import { collect, eventually, grpcError } from "../support/harness.js";
import { AES_KEY, CALLBACK_TOKEN, CORP1, CORP2, DK, PROVIDER, PROVIDER_SECRET, SUITE, SUITE_SECRET, SuiteHarness } from "../support/suite-platform.js";

let running: SuiteHarness | undefined;
afterEach(async () => {
  await running?.stop();
  running = undefined;
});

async function start(o: Parameters<typeof SuiteHarness.start>[0] = {}): Promise<SuiteHarness> {
  running = await SuiteHarness.start(o);
  return running;
}

function suiteOf(s: SuiteHarness, id = SUITE): SuitePlatform {
  const p = s.h.server.platforms.get(id);
  if (!(p instanceof SuitePlatform)) throw new Error(`no suite ${id}`);
  return p;
}

const store = (s: SuiteHarness) => s.h.server.store as unknown as PlatformStore;

/** Whether the fake takes `token` as the corp's token for the suite's app in it (what get_corp_token / gettoken hand out). */
function isCorpToken(s: SuiteHarness, corpId: string, token: string, suiteId = SUITE): boolean {
  const agent = s.suite(suiteId).corp(corpId)!.agentId;
  return s.fake.isWeComTokenValid(corpId, String(agent), token);
}

describe("a WeCom suite", () => {
  it("says clearly that no suite_ticket is held, then serves the suite token from the first push", async () => {
    const s = await start();
    const err = await grpcError(s.h.get({ appId: SUITE }, 300));
    expect(err.code).toBe(status.UNAVAILABLE);
    expect(statusDetailsOf(err.metadata)?.errorInfo?.reason).toBe("NO_SUITE_TICKET");
    expect(err.message).toMatch(/no suite_ticket is held for suite .*every 10 minutes.*刷新ticket/);
    expect(s.calls("get_suite_token")).toBe(0);
    // Health and status say so too.
    expect(s.h.server.health.get(appHealthName(SUITE))).toBe("NOT_SERVING");
    const listed = await new Promise<ListCredentialsResponse>((resolve, reject) =>
      s.h.client.listCredentials(ListCredentialsRequest.fromPartial({ appId: SUITE }), new Metadata(), (err, res) => (err ? reject(err) : resolve(res!))),
    );
    expect(listed.credentials.map((c) => [c.appId, c.lastErrorReason])).toEqual([[SUITE, "NO_SUITE_TICKET"]]);

    const pushed = await s.suite().pushTicket();
    expect(pushed.body).toBe("success");
    await eventually(async () => expect(s.suite().isSuiteTokenValid((await s.h.get({ appId: SUITE }, 300)).token!.accessToken)).toBe(true));
    expect(s.calls("get_suite_token", SUITE)).toBe(1);
    expect(s.h.server.health.get(appHealthName(SUITE))).toBe("SERVING");
    const held = suiteOf(s).heldTicket()!;
    expect(held.expiresAt - held.receivedAt).toBe(30 * 60_000);
  });

  it("installs one corp by push and one by redirect code, and serves each corp's token and tickets per (suite, corp)", async () => {
    const s = await start();
    await s.suite().pushTicket();
    const installed = await s.suite().install(CORP1);
    expect(installed.body).toBe("success");
    expect(installed.late).toBe(false);
    expect(s.suite().lateAnswers).toBe(0);
    await eventually(() => expect(suiteOf(s).holds(CORP1)).toBe(true));
    // Exchanged, stored, and the kept code dropped.
    await eventually(async () => expect(await store(s).pendingCodes(SUITE)).toEqual([]));
    const stored = await store(s).authorizer(SUITE, CORP1);
    expect(stored?.refreshToken).toBe(s.suite().permanentCodeOf(CORP1));
    expect(stored?.agents).toEqual([String(s.suite().corp(CORP1)!.agentId)]);

    const { authCode } = s.suite().installByRedirect(CORP2);
    const exchanges = s.calls("get_permanent_code");
    const authorized = await suiteOf(s).authorizeByCode(authCode);
    expect(authorized.tenantId).toBe(CORP2);
    // A business server retrying after a timeout gets the same corp, not WeCom's 40078 for a used code.
    expect(await suiteOf(s).authorizeByCode(authCode)).toEqual(authorized);
    expect(s.calls("get_permanent_code")).toBe(exchanges + 1);

    for (const corp of [CORP1, CORP2]) {
      const t = await s.h.get({ appId: corp, platformId: SUITE });
      expect(isCorpToken(s, corp, t.token!.accessToken)).toBe(true);
      expect(t.token!.platformId).toBe(SUITE);
      const jsapi = await s.h.get({ appId: corp, platformId: SUITE, kind: CredentialKind.CREDENTIAL_KIND_JSAPI_TICKET });
      expect(jsapi.token!.accessToken).not.toBe("");
    }
    // One suite token for the whole chain; the v1 exchange handed the first corp token over, so no get_corp_token for CORP1.
    expect(s.calls("get_suite_token", SUITE)).toBe(1);
    expect(s.calls("get_corp_token", `${SUITE}/${CORP1}`)).toBe(0);

    const page = await s.list(ListAuthorizersRequest.fromPartial({ componentAppId: SUITE }));
    expect(page.authorizers.map((a) => a.appId)).toEqual([CORP1, CORP2]);
    expect(page.totalSize).toBe(2);
  });

  it("signs an installed corp's page for wx.agentConfig with the agentid from its auth info", async () => {
    const s = await start();
    await s.suite().pushTicket();
    await s.suite().install(CORP1);
    await eventually(() => expect(suiteOf(s).holds(CORP1)).toBe(true));
    const url = "https://h5.example.com/page?x=1";
    const signed = await s.h.sign({ appId: CORP1, platformId: SUITE, kind: SignatureKind.SIGNATURE_KIND_AGENT_CONFIG, url });
    const agentId = String(s.suite().corp(CORP1)!.agentId);
    expect(signed.agent).toBe(agentId);
    const ticket = (await s.h.get({ appId: CORP1, platformId: SUITE, kind: CredentialKind.CREDENTIAL_KIND_AGENT_CONFIG_TICKET })).token!.accessToken;
    const expected = createHash("sha1").update(`jsapi_ticket=${ticket}&noncestr=${signed.nonceStr}&timestamp=${signed.timestamp}&url=${url}`).digest("hex");
    expect(signed.signature).toBe(expected);
  });

  it("keeps a corp that also installed another suite, or is a self-built corp, apart", async () => {
    const s = await start({
      apps: [{ type: "wecom", corpId: CORP1, agent: "1000002", secretEnv: "SELF_SECRET" }],
      env: { SELF_SECRET: "self-built-secret" },
      fake: { wecom: { [CORP1]: { "1000002": "self-built-secret" } } },
    });
    await s.suite(SUITE).pushTicket();
    await s.suite(DK).pushTicket();
    await s.suite(SUITE).install(CORP1);
    await s.suite(DK).install(CORP1);
    await eventually(() => expect(suiteOf(s, SUITE).holds(CORP1) && suiteOf(s, DK).holds(CORP1)).toBe(true));
    const viaSuite = (await s.h.get({ appId: CORP1, platformId: SUITE })).token!.accessToken;
    const viaDk = (await s.h.get({ appId: CORP1, platformId: DK })).token!.accessToken;
    const selfBuilt = (await s.h.get({ appId: CORP1, agent: "1000002" })).token!.accessToken;
    expect(isCorpToken(s, CORP1, viaSuite, SUITE)).toBe(true);
    expect(isCorpToken(s, CORP1, viaDk, DK)).toBe(true);
    expect(s.fake.isWeComTokenValid(CORP1, "1000002", selfBuilt)).toBe(true);
    expect(new Set([viaSuite, viaDk, selfBuilt]).size).toBe(3);
  });

  it("answers 代开发 corps' tokens from gettoken with the permanent code, and rotates it on reset_permanent_code", async () => {
    const s = await start();
    await s.suite(DK).pushTicket();
    await s.suite(DK).install(CORP1);
    await eventually(() => expect(suiteOf(s, DK).holds(CORP1)).toBe(true));
    const first = s.suite(DK).permanentCodeOf(CORP1)!;
    const held = (await s.h.get({ appId: CORP1, platformId: DK })).token!.accessToken;
    const agent = String(s.suite(DK).corp(CORP1)!.agentId);
    const before = s.fake.calls("/cgi-bin/gettoken");
    // WeCom cut the token (a reset, a leak): gettoken with the permanent code as the secret gives a new one.
    s.fake.invalidateWeComToken(CORP1, agent);
    const forced = await s.h.refresh({ appId: CORP1, platformId: DK, staleToken: held });
    expect(forced.refreshed).toBe(true);
    expect(isCorpToken(s, CORP1, forced.token!.accessToken, DK)).toBe(true);
    expect(s.fake.calls("/cgi-bin/gettoken")).toBe(before + 1);
    expect(s.calls("get_corp_token")).toBe(0);

    const reset = await s.suite(DK).resetPermanentCode(CORP1);
    expect(reset.body).toBe("success");
    const next = () => s.suite(DK).permanentCodeOf(CORP1);
    // Exchanged (WeCom's code changes then) and the new code stored in place of the old one.
    await eventually(async () => {
      expect(next()).not.toBe(first);
      expect((await store(s).authorizer(DK, CORP1))?.refreshToken).toBe(next());
    });
    await eventually(async () => {
      const got = (await s.h.get({ appId: CORP1, platformId: DK })).token!.accessToken;
      expect(isCorpToken(s, CORP1, got, DK)).toBe(true);
    });
  });

  it("re-reads the agents on change_auth and drops the corp and its permanent code on cancel_auth", async () => {
    const s = await start();
    await s.suite().pushTicket();
    await s.suite().install(CORP1);
    await eventually(() => expect(suiteOf(s).holds(CORP1)).toBe(true));
    await s.h.get({ appId: CORP1, platformId: SUITE });
    const infoCalls = s.calls("get_auth_info", `${SUITE}/${CORP1}`);
    expect((await s.suite().change(CORP1)).body).toBe("success");
    await eventually(() => expect(s.calls("get_auth_info", `${SUITE}/${CORP1}`)).toBe(infoCalls + 1));

    const watch = collect(s.h.client.watchToken(WatchTokenRequest.fromPartial({ appId: CORP1, platformId: SUITE })));
    await eventually(() => expect(watch.messages.length).toBe(1));
    expect((await s.suite().cancel(CORP1)).body).toBe("success");
    await eventually(() => expect(suiteOf(s).holds(CORP1)).toBe(false));
    // A watcher is told the corp left the suite, not that nothing is configured.
    const ended = await watch.ended;
    expect(ended?.code).toBe(status.NOT_FOUND);
    expect(ended?.details).toMatch(/is not a tenant of WeCom suite "wwsuite00000000001"/);
    expect(await store(s).authorizer(SUITE, CORP1)).toBeUndefined();
    const err = await grpcError(s.h.get({ appId: CORP1, platformId: SUITE }));
    expect(err.code).toBe(status.NOT_FOUND);
  });

  it("refreshes a suite token WeCom calls invalid (40082) or expired (42009) and retries: the client sees neither", async () => {
    const s = await start();
    await s.suite().pushTicket();
    await s.suite().install(CORP1);
    await eventually(() => expect(suiteOf(s).holds(CORP1)).toBe(true));
    const suiteCalls = s.calls("get_suite_token", SUITE);
    const stale = (await s.h.get({ appId: CORP1, platformId: SUITE })).token!.accessToken;
    s.fake.invalidateWeComToken(CORP1, String(s.suite().corp(CORP1)!.agentId));
    for (const errcode of [40082, 42009]) {
      const before = s.calls("get_corp_token", `${SUITE}/${CORP1}`);
      s.suite().failNext(errcode, { path: "/cgi-bin/service/get_corp_token" });
      const current = (await s.h.get({ appId: CORP1, platformId: SUITE })).token!.accessToken;
      if (current === stale) {
        const refreshed = await s.h.refresh({ appId: CORP1, platformId: SUITE, staleToken: stale });
        expect(isCorpToken(s, CORP1, refreshed.token!.accessToken)).toBe(true);
      } else {
        s.fake.invalidateWeComToken(CORP1, String(s.suite().corp(CORP1)!.agentId));
        const refreshed = await s.h.refresh({ appId: CORP1, platformId: SUITE, staleToken: current });
        expect(isCorpToken(s, CORP1, refreshed.token!.accessToken)).toBe(true);
      }
      // The refused call, then the retry with the suite token compare-and-refreshed.
      expect(s.calls("get_corp_token", `${SUITE}/${CORP1}`)).toBe(before + 2);
    }
    // WeCom handed back the same (still valid) suite token each time: asked once per refusal, never seen by the client.
    expect(s.calls("get_suite_token", SUITE)).toBe(suiteCalls + 2);
  });

  it("holds the provider token", async () => {
    const s = await start();
    const t = (await s.h.get({ appId: PROVIDER })).token!;
    expect(t.accessToken).not.toBe("");
    expect(s.fake.calls("/cgi-bin/service/get_provider_token", PROVIDER)).toBe(1);
  });

  it("never writes a secret, permanent code, ticket or token to its logs", async () => {
    const s = await start();
    await s.suite().pushTicket();
    await s.suite().install(CORP1);
    await eventually(() => expect(suiteOf(s).holds(CORP1)).toBe(true));
    const token = (await s.h.get({ appId: CORP1, platformId: SUITE })).token!.accessToken;
    const suiteToken = (await s.h.get({ appId: SUITE })).token!.accessToken;
    const text = s.h.logs.text();
    for (const secret of [SUITE_SECRET, PROVIDER_SECRET, s.suite().permanentCodeOf(CORP1)!, s.suite().currentTicket()!, token, suiteToken]) {
      expect(text).not.toContain(secret);
    }
  });

  it("answers WeCom's URL check (GET with echostr) with the decrypted echostr, for the suite id or the provider's corpid only", async () => {
    const s = await start();
    const check = async (receiverId: string, o: { token?: string } = {}) => {
      const timestamp = String(Math.floor(s.clock.now() / 1000));
      const nonce = "n0nce";
      const echostr = encrypt(AES_KEY, "echo-1234567890", receiverId);
      const signature = computeSignature(o.token ?? CALLBACK_TOKEN, timestamp, nonce, echostr);
      const q = new URLSearchParams({ msg_signature: signature, timestamp, nonce, echostr });
      const res = await request(`${s.pushUrl(SUITE)}?${q}`);
      return { status: res.statusCode, body: await res.body.text() };
    };
    expect(await check(SUITE)).toEqual({ status: 200, body: "echo-1234567890" });
    expect(await check(PROVIDER)).toEqual({ status: 200, body: "echo-1234567890" });
    expect((await check("wwsomeoneelse00001")).status).toBe(403);
    expect((await check(SUITE, { token: "wrong-token" })).status).toBe(403);
    const bare = await request(s.pushUrl(SUITE));
    expect(bare.statusCode).toBe(400);
    await bare.body.text();
  });

  it("exposes the held ticket's age as a metric an alert can watch (-1 when none is held)", async () => {
    const s = await start({ config: { metrics: { listen: "127.0.0.1:0" } } });
    const age = async () => {
      const res = await request(`http://127.0.0.1:${s.h.server.metricsPort}/metrics`);
      const text = await res.body.text();
      const line = text.split("\n").find((l) => l.startsWith(`wxtoken_platform_ticket_age_seconds{platform="${SUITE}",family="wecom_suite"}`));
      return Number(line?.split(" ").at(-1));
    };
    expect(await age()).toBe(-1);
    await s.suite().pushTicket();
    expect(await age()).toBe(0);
    // The fake's timer would push at 10 minutes: without pushes arriving, the age grows past the 20-minute alert.
    s.suite().pushUrl = "http://127.0.0.1:9/unreachable";
    await s.clock.advance(21 * 60_000);
    expect(await age()).toBeGreaterThanOrEqual(21 * 60);
  });

  it("says which config key is missing when a corp's ticket kind is not held, and that the corp is installed", async () => {
    const s = await start({ suite: { corpTickets: ["jsapi"] } });
    await s.suite().pushTicket();
    await s.suite().install(CORP1);
    await eventually(() => expect(suiteOf(s).holds(CORP1)).toBe(true));
    const err = await grpcError(s.h.get({ appId: CORP1, platformId: SUITE, kind: CredentialKind.CREDENTIAL_KIND_AGENT_CONFIG_TICKET }));
    expect(err.code).toBe(status.NOT_FOUND);
    expect(err.message).toMatch(/holds no agent_config_ticket for its corps: list it in wecomProviders\.suites\[\]\.corpTickets/);
    const notInstalled = await grpcError(s.h.get({ appId: CORP2, platformId: SUITE }));
    expect(notInstalled.message).toMatch(/is not a tenant of WeCom suite/);
  });
});

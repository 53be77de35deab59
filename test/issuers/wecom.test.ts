/**
 * WeCom (企业微信) end to end: one token per secret under a corp, the corp
 * jsapi ticket and each agent's agent_config ticket, WeCom's own errcodes and
 * hourly ticket limits; the real server against the fake's WeCom host.
 */
import { status } from "@grpc/grpc-js";
import { join } from "node:path";
import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { CredentialKind } from "../../generated/wxtoken/v1/token_service.js";
import { statusDetailsOf } from "../../packages/client/src/status-details.js";
import { eventually, grpcError, Harness, tempDir, type HarnessOptions } from "../support/harness.js";

const CORP = "ww0123456789abcdef";
const A1 = "1000002";
const A2 = "1000003";
const WECOM = { [CORP]: { [A1]: "agent-one-secret-NEVER-LEAK", [A2]: "agent-two-secret-NEVER-LEAK", contacts: "contacts-secret-NEVER-LEAK" } };
const ENV = { A1_SECRET: WECOM[CORP][A1], A2_SECRET: WECOM[CORP][A2], CONTACTS_SECRET: WECOM[CORP].contacts };
const JSAPI = CredentialKind.CREDENTIAL_KIND_JSAPI_TICKET;
const AGENT_CONFIG = CredentialKind.CREDENTIAL_KIND_AGENT_CONFIG_TICKET;

/** A deadline before the server's next attempt: the caller is answered at once, not joined to it. */
const SHORT = 600;

let h: Harness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

function wecom(opts: HarnessOptions = {}): Promise<Harness> {
  return Harness.start({
    fakeOptions: { wecom: WECOM },
    env: ENV,
    apps: [
      { type: "wecom", corpId: CORP, agent: A1, secretEnv: "A1_SECRET", tickets: ["jsapi", "agent_config"] },
      { type: "wecom", corpId: CORP, agent: A2, secretEnv: "A2_SECRET", tickets: ["agent_config"] },
      { type: "wecom", corpId: CORP, agent: "contacts", secretEnv: "CONTACTS_SECRET" },
    ],
    ...opts,
  });
}

/** A business call that names its agent: WeCom answers 301002 for a token of another agent. */
async function agentGet(h: Harness, token: string, agentId: string): Promise<number> {
  const res = await request(`${h.fake.wecomUrl}/cgi-bin/agent/get?access_token=${encodeURIComponent(token)}&agentid=${agentId}`);
  return ((await res.body.json()) as { errcode: number }).errcode;
}

describe("WeCom tokens, one per secret", () => {
  it("gives each agent and built-in app of a corp its own token, never another's", async () => {
    h = await wecom();
    const [t1, t2, tc] = await Promise.all([A1, A2, "contacts"].map((agent) => h!.get({ appId: CORP, agent }).then((r) => r.token!)));
    expect(new Set([t1!.accessToken, t2!.accessToken, tc!.accessToken]).size).toBe(3);
    expect(t1).toMatchObject({ appId: CORP, agent: A1, kind: CredentialKind.CREDENTIAL_KIND_ACCESS_TOKEN, version: 1 });
    expect(h.fake.isWeComTokenValid(CORP, A1, t1!.accessToken)).toBe(true);
    expect(h.fake.isWeComTokenValid(CORP, A2, t2!.accessToken)).toBe(true);
    expect(await agentGet(h, t1!.accessToken, A1)).toBe(0);
    expect(await agentGet(h, t2!.accessToken, A2)).toBe(0);
    // The mistake SDKs make (a token cached per corp) shows as 301002:
    expect(await agentGet(h, t1!.accessToken, A2)).toBe(301002);
    // A corp without an agent is not a credential here.
    expect((await grpcError(h.get({ appId: CORP }))).code).toBe(status.NOT_FOUND);
    expect((await grpcError(h.get({ appId: CORP, agent: "1000009" }))).code).toBe(status.NOT_FOUND);
  });

  it("keeps each agent's token under its own key in the file store, and serves them after a restart with no call", async () => {
    const storePath = join(tempDir(), "tokens.json");
    h = await wecom({ storePath });
    const before = await Promise.all([A1, A2].map((agent) => h!.get({ appId: CORP, agent }).then((r) => r.token!.accessToken)));
    await h.server.store.flush();
    const { fake, clock } = h;
    await h.stop();
    h = undefined;
    const calls = fake.calls("/cgi-bin/gettoken");
    await fake.start();
    try {
      h = await wecom({ storePath, fake, clock });
      const after = await Promise.all([A1, A2].map((agent) => h!.get({ appId: CORP, agent }).then((r) => r.token!.accessToken)));
      expect(after).toEqual(before);
      expect(fake.calls("/cgi-bin/gettoken")).toBe(calls);
    } finally {
      await h?.stop();
      h = undefined;
      await fake.close();
    }
  });

  it("recovers a token WeCom cut early through ForceRefresh with the stale token", async () => {
    h = await wecom();
    const t1 = (await h.get({ appId: CORP, agent: A1 })).token!;
    // The tickets fetched at start with this token are in (they would notice the cut themselves).
    await Promise.all([h.get({ appId: CORP, kind: JSAPI }), h.get({ appId: CORP, agent: A1, kind: AGENT_CONFIG })]);
    h.fake.invalidateWeComToken(CORP, A1);
    expect(await agentGet(h, t1.accessToken, A1)).toBe(40014);
    const res = await h.refresh({ appId: CORP, agent: A1, staleToken: t1.accessToken });
    expect(res).toMatchObject({ refreshed: true, token: { version: 2, agent: A1 } });
    expect(await agentGet(h, res.token!.accessToken, A1)).toBe(0);
    // The other agent was not touched.
    expect(h.fake.successfulWeComTokenCalls(`${CORP}/${A2}`)).toBe(1);
  });

  it("asks WeCom again only at expiry, since it answers the same token until then; a re-fetch never extends it", async () => {
    h = await wecom();
    const t1 = (await h.get({ appId: CORP, agent: A1 })).token!;
    await h.clock.advanceTo(t1.refreshAt!.getTime());
    await eventually(() => expect(h!.fake.successfulWeComTokenCalls(`${CORP}/${A1}`)).toBe(2));
    const same = (await h.get({ appId: CORP, agent: A1 })).token!;
    expect(same).toMatchObject({ accessToken: t1.accessToken, version: 1, expiresAt: t1.expiresAt });
    await h.clock.advanceTo(t1.expiresAt!.getTime());
    await eventually(async () => expect((await h!.get({ appId: CORP, agent: A1 })).token!.version).toBe(2));
    expect(h.fake.successfulWeComTokenCalls(`${CORP}/${A1}`)).toBe(3);
  });
});

describe("WeCom's errcodes, from their own table", () => {
  // Written out here, not copied from the server's table: errcode -> the status a
  // caller gets, and when the server asks WeCom again (ms; Infinity: not within the hour).
  const GETTOKEN: [number, status, number][] = [
    [-1, status.UNAVAILABLE, 1_000],
    [40001, status.FAILED_PRECONDITION, Infinity], // a wrong secret: never retried in a loop
    [40013, status.FAILED_PRECONDITION, Infinity],
    [40091, status.FAILED_PRECONDITION, Infinity],
    [41002, status.FAILED_PRECONDITION, Infinity],
    [41004, status.FAILED_PRECONDITION, Infinity],
    [45009, status.RESOURCE_EXHAUSTED, 80_000],
    [45033, status.RESOURCE_EXHAUSTED, 80_000],
    [48002, status.FAILED_PRECONDITION, Infinity],
    [60020, status.FAILED_PRECONDITION, 400_000], // the IP rule: the admin retry, 5 minutes (+20 %)
    [301002, status.FAILED_PRECONDITION, Infinity],
  ];

  it.each(GETTOKEN)("gettoken %i: %s, asked again within %d ms", async (errcode, code, againWithinMs) => {
    h = await wecom({ faults: [{ path: "/cgi-bin/gettoken", appId: `${CORP}/${A2}`, errcode, times: Infinity }] });
    const err = await grpcError(h.get({ appId: CORP, agent: A2 }, SHORT));
    expect(err.code).toBe(code);
    expect(statusDetailsOf(err.metadata)?.errorInfo).toMatchObject({ reason: "WECHAT_ERROR", metadata: { errcode: String(errcode), agent: A2 } });
    expect(err.details).not.toContain(WECOM[CORP][A2]);
    const id = `${CORP}/${A2}`;
    const calls = h.fake.calls("/cgi-bin/gettoken", id);
    if (againWithinMs === Infinity) {
      // Permanent: the next attempt waits permanentRetrySeconds (30 minutes), not seconds.
      await h.clock.advance(600_000);
      expect(h.fake.calls("/cgi-bin/gettoken", id)).toBe(calls);
    } else {
      await h.clock.advance(againWithinMs);
      await eventually(() => expect(h!.fake.calls("/cgi-bin/gettoken", id)).toBeGreaterThan(calls));
    }
  });

  const TICKET: [number, status][] = [
    [-1, status.UNAVAILABLE],
    [40001, status.UNAVAILABLE], // after the agent's token was refreshed and the ticket asked once more
    [40014, status.UNAVAILABLE],
    [42001, status.UNAVAILABLE],
    [40097, status.FAILED_PRECONDITION],
    [45033, status.RESOURCE_EXHAUSTED],
    [41001, status.FAILED_PRECONDITION],
    [45009, status.RESOURCE_EXHAUSTED],
    [48002, status.FAILED_PRECONDITION],
    [60020, status.FAILED_PRECONDITION],
    [301002, status.FAILED_PRECONDITION],
  ];

  it.each(TICKET)("agent ticket %i: %s", async (errcode, code) => {
    h = await wecom({ faults: [{ path: "/cgi-bin/ticket/get", errcode, times: Infinity }] });
    const err = await grpcError(h.get({ appId: CORP, agent: A2, kind: AGENT_CONFIG }, SHORT));
    expect(err.code).toBe(code);
    expect(statusDetailsOf(err.metadata)?.errorInfo?.metadata).toMatchObject({ errcode: String(errcode), kind: "agent_config_ticket" });
  });

  it("agent ticket 45009 (the hourly limit) is retried at the next hour, not before", async () => {
    h = await wecom({ faults: [{ path: "/cgi-bin/ticket/get", errcode: 45009, times: 1 }] });
    const err = await grpcError(h.get({ appId: CORP, agent: A2, kind: AGENT_CONFIG }));
    const retry = statusDetailsOf(err.metadata)!.retryDelayMs!;
    const untilHour = 3_600_000 - (h.clock.now() % 3_600_000);
    expect(retry).toBeGreaterThanOrEqual(untilHour - 1000);
    expect(retry).toBeLessThanOrEqual(untilHour + 60_000);
  });

  it("ticket 40014 (a token WeCom cut early) refreshes the agent's token and retries once", async () => {
    h = await wecom();
    const stale = (await h.get({ appId: CORP, agent: A2, kind: AGENT_CONFIG })).token!;
    h.fake.invalidateWeComToken(CORP, A2);
    h.fake.invalidateTicket(`${CORP}/${A2}`, "agent_config");
    const t = (await h.refresh({ appId: CORP, agent: A2, kind: AGENT_CONFIG, staleToken: stale.accessToken })).token!;
    expect(t).toMatchObject({ version: 2, accessToken: h.fake.currentTicket(`${CORP}/${A2}`, "agent_config") });
    expect((await h.get({ appId: CORP, agent: A2 })).token!.version).toBe(2);
  });
});

describe("WeCom tickets", () => {
  it("serves the corp jsapi ticket (to any agent that asks) and each agent's own agent_config ticket", async () => {
    h = await wecom();
    const corpTicket = (await h.get({ appId: CORP, kind: JSAPI })).token!;
    expect(corpTicket).toMatchObject({ appId: CORP, agent: "", accessToken: h.fake.currentTicket(CORP, "jsapi") });
    expect((await h.get({ appId: CORP, agent: A2, kind: JSAPI })).token!.accessToken).toBe(corpTicket.accessToken);
    const [k1, k2] = await Promise.all([A1, A2].map((agent) => h!.get({ appId: CORP, agent, kind: AGENT_CONFIG }).then((r) => r.token!)));
    expect(k1).toMatchObject({ agent: A1, accessToken: h.fake.currentTicket(`${CORP}/${A1}`, "agent_config") });
    expect(k2).toMatchObject({ agent: A2, accessToken: h.fake.currentTicket(`${CORP}/${A2}`, "agent_config") });
    expect(k1.accessToken).not.toBe(k2.accessToken);
    // "contacts" lists no ticket.
    expect((await grpcError(h.get({ appId: CORP, agent: "contacts", kind: AGENT_CONFIG }))).code).toBe(status.NOT_FOUND);
  });

  it("stays under the hourly limit per agent whatever the callers do, and says when the next hour starts", async () => {
    h = await wecom({ config: { quota: { wecomTicketsPerAgentHour: 3, dailyBudget: 1000, forceRefreshDailyBudget: 1000, minForceRefreshIntervalSeconds: 0, clientForceRefreshPerMinute: 1000 } } });
    let ticket = (await h.get({ appId: CORP, agent: A2, kind: AGENT_CONFIG })).token!;
    for (let i = 0; i < 2; i++) {
      h.fake.invalidateTicket(`${CORP}/${A2}`, "agent_config");
      ticket = (await h.refresh({ appId: CORP, agent: A2, kind: AGENT_CONFIG, staleToken: ticket.accessToken })).token!;
    }
    h.fake.invalidateTicket(`${CORP}/${A2}`, "agent_config");
    const calls = h.fake.calls("/cgi-bin/ticket/get");
    const err = await grpcError(h.refresh({ appId: CORP, agent: A2, kind: AGENT_CONFIG, staleToken: ticket.accessToken }));
    expect(err.code).toBe(status.RESOURCE_EXHAUSTED);
    const details = statusDetailsOf(err.metadata)!;
    expect(details.errorInfo).toMatchObject({ reason: "QUOTA_EXHAUSTED", metadata: { limit: "HOURLY_LIMIT_REACHED" } });
    expect(details.retryDelayMs).toBe(3_600_000 - (h.clock.now() % 3_600_000));
    expect(h.fake.calls("/cgi-bin/ticket/get")).toBe(calls);
    // The other agent has its own count.
    const other = (await h.get({ appId: CORP, agent: A1, kind: AGENT_CONFIG })).token!;
    h.fake.invalidateTicket(`${CORP}/${A1}`, "agent_config");
    await h.refresh({ appId: CORP, agent: A1, kind: AGENT_CONFIG, staleToken: other.accessToken });
  });

  it("stays under the hourly limit per corp across its agents", async () => {
    h = await wecom({ config: { quota: { wecomTicketsPerCorpHour: 3, dailyBudget: 1000, forceRefreshDailyBudget: 1000, minForceRefreshIntervalSeconds: 0, clientForceRefreshPerMinute: 1000 } } });
    // A1's jsapi and agent_config, and A2's agent_config: three fetches at start.
    await Promise.all([
      h.get({ appId: CORP, kind: JSAPI }),
      h.get({ appId: CORP, agent: A1, kind: AGENT_CONFIG }),
      h.get({ appId: CORP, agent: A2, kind: AGENT_CONFIG }),
    ]);
    const ticket = (await h.get({ appId: CORP, agent: A2, kind: AGENT_CONFIG })).token!;
    h.fake.invalidateTicket(`${CORP}/${A2}`, "agent_config");
    const err = await grpcError(h.refresh({ appId: CORP, agent: A2, kind: AGENT_CONFIG, staleToken: ticket.accessToken }));
    expect(statusDetailsOf(err.metadata)?.errorInfo?.metadata).toMatchObject({ limit: "HOURLY_LIMIT_REACHED" });
    expect(err.details).toContain(`corp ${CORP}`);
    // The next hour, it works again.
    await h.clock.advance(3_600_000 - (h.clock.now() % 3_600_000));
    const next = await h.refresh({ appId: CORP, agent: A2, kind: AGENT_CONFIG, staleToken: ticket.accessToken });
    expect(next).toMatchObject({ refreshed: true, token: { version: 2 } });
  });
});

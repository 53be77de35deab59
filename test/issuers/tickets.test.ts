/**
 * Official Account JS-SDK tickets end to end: the real server, the fake WeChat
 * over HTTP, one fake clock. A ticket is a credential like the token it is
 * derived from: single flight, refreshed ahead of its own expiry, stored,
 * watched, force-refreshed.
 */
import { status } from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { CredentialKind } from "../../generated/wxtoken/v1/token_service.js";
import { statusDetailsOf } from "../../packages/client/src/status-details.js";
import { APP, APP2, collect, eventually, grpcError, Harness, SECRETS, tempDir } from "../support/harness.js";
import { join } from "node:path";

const JSAPI = CredentialKind.CREDENTIAL_KIND_JSAPI_TICKET;
const CARD = CredentialKind.CREDENTIAL_KIND_WX_CARD_TICKET;
const GETTICKET = "/cgi-bin/ticket/getticket";

let h: Harness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

/** APP lists both tickets; APP2 lists none. */
function withTickets(opts: Parameters<typeof Harness.start>[0] = {}): Promise<Harness> {
  return Harness.start({
    apps: [
      { appId: APP, secretEnv: `SECRET_${APP}`, tickets: ["jsapi", "wx_card"] },
      { appId: APP2, secretEnv: `SECRET_${APP2}` },
    ],
    ...opts,
  });
}

describe("JS-SDK tickets of an Official Account", () => {
  it("serves the jsapi and wx_card tickets of an app that lists them, and none of one that does not", async () => {
    h = await withTickets();
    const jsapi = (await h.get({ appId: APP, kind: JSAPI })).token!;
    const card = (await h.get({ appId: APP, kind: CARD })).token!;
    expect(jsapi).toMatchObject({ appId: APP, kind: JSAPI, version: 1, agent: "" });
    expect(jsapi.accessToken).toBe(h.fake.currentTicket(APP, "jsapi"));
    expect(card.accessToken).toBe(h.fake.currentTicket(APP, "wx_card"));
    expect(jsapi.expiresAt!.getTime() - jsapi.obtainedAt!.getTime()).toBe(7200_000);

    const err = await grpcError(h.get({ appId: APP2, kind: JSAPI }));
    expect(err.code).toBe(status.NOT_FOUND);
    expect(err.details).toContain(`jsapi_ticket of ${APP2}`);
    expect(statusDetailsOf(err.metadata)?.errorInfo).toMatchObject({ reason: "UNKNOWN_APP", metadata: { app_id: APP2, kind: "jsapi_ticket" } });
    // Tickets are fetched only for apps that list them.
    expect(h.fake.calls(GETTICKET, APP2)).toBe(0);
  });

  it("makes one upstream ticket call for 300 concurrent callers on a cold start", async () => {
    h = await withTickets({ faults: [{ path: GETTICKET, delayMs: 400 }] });
    const results = await Promise.all(Array.from({ length: 300 }, () => h!.get({ appId: APP, kind: JSAPI })));
    expect(new Set(results.map((r) => r.token!.accessToken)).size).toBe(1);
    await eventually(() => expect(h!.fake.successfulTicketCalls(APP, "jsapi")).toBe(1));
  });

  it("refreshes ahead of its own expiry, and a re-fetch that returns the same ticket never extends its life", async () => {
    h = await withTickets();
    const first = (await h.get({ appId: APP, kind: JSAPI })).token!;
    const watch = collect(h.client.watchToken({ appId: APP, kind: JSAPI, agent: "", platformId: "", knownVersion: 0, knownFingerprint: "" }));
    await eventually(() => expect(watch.messages).toHaveLength(1));
    const calls = h.fake.successfulTicketCalls(APP, "jsapi");

    // The planned refresh: WeChat answers the same ticket with expires_in 7200 again.
    await h.clock.advanceTo(first.refreshAt!.getTime());
    await eventually(() => expect(h!.fake.successfulTicketCalls(APP, "jsapi")).toBe(calls + 1));
    const again = (await h.get({ appId: APP, kind: JSAPI })).token!;
    expect(again.accessToken).toBe(first.accessToken);
    expect(again.version).toBe(1);
    expect(again.expiresAt).toEqual(first.expiresAt);
    // No more calls before the ticket expires: WeChat would only answer the same one.
    await h.clock.advanceTo(first.expiresAt!.getTime() - 1);
    expect(h.fake.successfulTicketCalls(APP, "jsapi")).toBe(calls + 1);

    // At its expiry WeChat issues the next one, and the watcher gets it.
    await h.clock.advanceTo(first.expiresAt!.getTime());
    await eventually(() => expect(watch.messages).toHaveLength(2));
    const next = watch.messages[1]!.token!;
    expect(next.version).toBe(2);
    expect(next.accessToken).not.toBe(first.accessToken);
    expect(next.accessToken).toBe(h.fake.currentTicket(APP, "jsapi"));
  });

  it("after 40001 from getticket refreshes the parent token (compare-and-refresh) and retries once", async () => {
    h = await withTickets();
    const token = (await h.getToken(APP)).token!;
    await h.get({ appId: APP, kind: JSAPI });
    // Someone else refreshed the app's token: ours answers 40001, and the ticket has to be fetched again.
    h.fake.invalidateTokens(APP);
    h.fake.invalidateTicket(APP, "jsapi");
    const stale = (await h.get({ appId: APP, kind: JSAPI })).token!;
    const res = await h.refresh({ appId: APP, kind: JSAPI, staleToken: stale.accessToken });
    expect(res.refreshed).toBe(true);
    expect(res.token!.accessToken).toBe(h.fake.currentTicket(APP, "jsapi"));
    const newToken = (await h.getToken(APP)).token!;
    expect(newToken.version).toBe(token.version + 1);
    expect(h.fake.isValid(APP, newToken.accessToken)).toBe(true);
    // One failed ticket call, one parent refresh, one ticket call that worked.
    expect(h.fake.calls(GETTICKET, APP)).toBe(4); // jsapi + wx_card at start, the failed one, the retry
  });

  it("retries a ticket fetch only once after refreshing the parent: a second 40014 fails the fetch", async () => {
    h = await Harness.start({ apps: [{ appId: APP, secretEnv: `SECRET_${APP}`, tickets: ["jsapi"] }], faults: [{ path: GETTICKET, errcode: 40014, times: 2 }] });
    const err = await grpcError(h.get({ appId: APP, kind: JSAPI }, 600));
    expect(err.code).toBe(status.UNAVAILABLE);
    expect(statusDetailsOf(err.metadata)?.errorInfo).toMatchObject({ reason: "WECHAT_ERROR", metadata: { errcode: "40014" } });
    // The token was refreshed once for it (a compare-and-refresh of the token it used), not in a loop.
    expect(h.fake.successfulTokenCalls(APP)).toBe(2);
  });

  // Written out here, not copied from the server's table: getticket's errcode ->
  // the status a caller gets, and whether the app's token was refreshed for it.
  const ROWS: [number, status, boolean][] = [
    [-1, status.UNAVAILABLE, false],
    [40001, status.UNAVAILABLE, true],
    [40014, status.UNAVAILABLE, true],
    [42001, status.UNAVAILABLE, true],
    [41001, status.FAILED_PRECONDITION, false],
    [40097, status.FAILED_PRECONDITION, false],
    [45009, status.RESOURCE_EXHAUSTED, false],
    [48001, status.FAILED_PRECONDITION, false],
    [50002, status.FAILED_PRECONDITION, false],
  ];

  it.each(ROWS)("getticket %i: %s (parent token refreshed: %s)", async (errcode, code, parentRefreshed) => {
    h = await Harness.start({ apps: [{ appId: APP, secretEnv: `SECRET_${APP}`, tickets: ["jsapi"] }], faults: [{ path: GETTICKET, errcode, times: Infinity }] });
    const err = await grpcError(h.get({ appId: APP, kind: JSAPI }, 600));
    expect(err.code).toBe(code);
    expect(statusDetailsOf(err.metadata)?.errorInfo?.metadata).toMatchObject({ errcode: String(errcode), kind: "jsapi_ticket" });
    expect(h.fake.successfulTokenCalls(APP)).toBe(parentRefreshed ? 2 : 1);
    // One retry after the refresh at most: never a loop.
    expect(h.fake.calls(GETTICKET, APP)).toBe(parentRefreshed ? 2 : 1);
  });

  it("keeps a valid ticket when the parent token rotates", async () => {
    h = await withTickets();
    const ticket = (await h.get({ appId: APP, kind: JSAPI })).token!;
    const calls = h.fake.calls(GETTICKET, APP);
    const token = (await h.getToken(APP)).token!;
    await h.forceRefresh(APP, token.accessToken);
    const after = (await h.get({ appId: APP, kind: JSAPI })).token!;
    expect(after.accessToken).toBe(ticket.accessToken);
    expect(after.version).toBe(1);
    expect(h.fake.calls(GETTICKET, APP)).toBe(calls);
  });

  it("force-refreshes a ticket a page reported by its fingerprint; a ticket WeChat still holds valid answers SAME_TOKEN", async () => {
    h = await withTickets();
    const ticket = (await h.get({ appId: APP, kind: JSAPI })).token!;
    const same = await grpcError(h.refresh({ appId: APP, kind: JSAPI, staleToken: ticket.fingerprint }));
    expect(same.code).toBe(status.UNAVAILABLE);
    expect(same.details).toMatch(/still holds it valid.*URL/);
    expect(statusDetailsOf(same.metadata)?.errorInfo?.reason).toBe("SAME_TOKEN");

    h.fake.invalidateTicket(APP, "jsapi");
    const res = await h.refresh({ appId: APP, kind: JSAPI, staleToken: ticket.fingerprint });
    expect(res.refreshed).toBe(true);
    expect(res.token).toMatchObject({ version: 2, accessToken: h.fake.currentTicket(APP, "jsapi") });
    // Reporting the old one again costs nothing.
    const late = await h.refresh({ appId: APP, kind: JSAPI, staleToken: ticket.accessToken });
    expect(late).toMatchObject({ refreshed: false, token: { version: 2 } });
  });

  it("keeps ticket fetches within their own daily budget", async () => {
    h = await withTickets({ config: { quota: { ticketDailyBudget: 2, dailyBudget: 100, forceRefreshDailyBudget: 100, minForceRefreshIntervalSeconds: 0, clientForceRefreshPerMinute: 1000 } } });
    const ticket = (await h.get({ appId: APP, kind: JSAPI })).token!;
    h.fake.invalidateTicket(APP, "jsapi");
    const second = (await h.refresh({ appId: APP, kind: JSAPI, staleToken: ticket.accessToken })).token!;
    h.fake.invalidateTicket(APP, "jsapi");
    const err = await grpcError(h.refresh({ appId: APP, kind: JSAPI, staleToken: second.accessToken }));
    expect(err.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(statusDetailsOf(err.metadata)?.errorInfo).toMatchObject({ reason: "QUOTA_EXHAUSTED", metadata: { limit: "DAILY_BUDGET_EXHAUSTED" } });
    // The token has a budget of its own.
    const token = (await h.getToken(APP)).token!;
    await h.forceRefresh(APP, token.accessToken);
  });

  it("serves a stored ticket after a restart with no upstream call", async () => {
    const storePath = join(tempDir(), "tokens.json");
    h = await withTickets({ storePath });
    const ticket = (await h.get({ appId: APP, kind: JSAPI })).token!;
    await h.server.store.flush();
    const fake = h.fake;
    const clock = h.clock;
    await h.stop();
    h = undefined;
    const ticketCalls = fake.calls(GETTICKET);
    await fake.start();
    try {
      h = await withTickets({ storePath, fake, clock });
      const again = (await h.get({ appId: APP, kind: JSAPI })).token!;
      expect(again).toMatchObject({ accessToken: ticket.accessToken, version: 1 });
      expect(fake.calls(GETTICKET)).toBe(ticketCalls);
    } finally {
      await h?.stop();
      h = undefined;
      await fake.close();
    }
  });

  it("never logs a ticket, only its fingerprint", async () => {
    h = await withTickets();
    const ticket = (await h.get({ appId: APP, kind: JSAPI })).token!;
    await h.get({ appId: APP, kind: CARD });
    expect(h.logs.text()).toContain(ticket.fingerprint);
    expect(h.logs.text()).not.toContain(ticket.accessToken);
    expect(h.logs.text()).not.toContain(SECRETS[APP]);
  });
});

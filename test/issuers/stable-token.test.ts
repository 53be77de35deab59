/** Apps on POST /cgi-bin/stable_token, end to end through the server and the fake WeChat. */
import { status } from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { statusDetailsOf } from "../../packages/client/src/status-details.js";
import { APP, eventually, grpcError, Harness, SECRETS } from "../support/harness.js";

let h: Harness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

const stableApp = { config: { apps: [{ appId: APP, secret: SECRETS[APP]!, endpoint: "stable_token" as const }] } };

describe("stable_token apps", () => {
  it("fetches from /cgi-bin/stable_token, and refreshes within its last 5 minutes to get a new token", async () => {
    h = await Harness.start(stableApp);
    const first = (await h.getToken(APP)).token!;
    expect(h.fake.calls("/cgi-bin/stable_token", APP)).toBe(1);
    expect(h.fake.calls("/cgi-bin/token", APP)).toBe(0);
    // The margin is capped at 240 s: an earlier refresh would only get the same token back.
    expect(first.expiresAt!.getTime() - first.refreshAt!.getTime()).toBeLessThanOrEqual(240_000);
    await h.clock.advance(first.refreshAt!.getTime() - h.clock.now());
    await eventually(async () => expect((await h!.getToken(APP)).token?.version).toBe(2));
    const second = (await h.getToken(APP)).token!;
    expect(second.accessToken).not.toBe(first.accessToken);
    expect(h.fake.isValid(APP, second.accessToken)).toBe(true);
    // Inside the overlap both work, as WeChat promises; then the old one expires.
    expect(h.fake.errcodeFor(first.accessToken)).toBe(0);
    await h.clock.advance(first.expiresAt!.getTime() - h.clock.now());
    expect([h.fake.errcodeFor(first.accessToken), h.fake.errcodeFor(second.accessToken)]).toEqual([42001, 0]);
  });

  it("ForceRefresh forces a new stable token, which supersedes the stale one", async () => {
    h = await Harness.start(stableApp);
    const stale = (await h.getToken(APP)).token!;
    const res = await h.forceRefresh(APP, stale.accessToken);
    expect(res.refreshed).toBe(true);
    expect(res.token?.version).toBe(2);
    expect(res.token?.accessToken).not.toBe(stale.accessToken);
    expect(h.fake.isValid(APP, res.token!.accessToken)).toBe(true);
    // force_refresh invalidates the previous token at once: no 5-minute overlap.
    expect(h.fake.isValid(APP, stale.accessToken)).toBe(false);
    expect(h.fake.errcodeFor(stale.accessToken)).toBe(40001);
    expect(h.fake.calls("/cgi-bin/stable_token", APP)).toBe(2);
  });

  it("a forced refresh WeChat answers with the same token (within its 30 s) is UNAVAILABLE with a retry delay, not a fake success", async () => {
    h = await Harness.start(stableApp);
    const first = (await h.getToken(APP)).token!;
    const forced = (await h.forceRefresh(APP, first.accessToken)).token!;
    // Ten seconds later the new token is reported stale too: WeChat will not force again so soon.
    await h.clock.advance(10_000);
    const err = await grpcError(h.forceRefresh(APP, forced.accessToken));
    expect(err.code).toBe(status.UNAVAILABLE);
    expect(err.details).toMatch(/same token/);
    const details = statusDetailsOf(err.metadata);
    expect(details?.errorInfo?.reason).toBe("SAME_TOKEN");
    expect(details?.retryDelayMs).toBe(30_000);
    // The token is still served, unchanged.
    const now = (await h.getToken(APP)).token!;
    expect(now.accessToken).toBe(forced.accessToken);
    expect(now.version).toBe(forced.version);
  });
});

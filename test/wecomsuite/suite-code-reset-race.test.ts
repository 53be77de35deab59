/**
 * A 代开发 corp's permanent code reset (reset_permanent_code) while its
 * token is being fetched with the old code: WeCom retires the old code at the
 * reset's exchange, so the fetch in flight is refused (40001, the old code is
 * no secret any more). The new code is already held by then: the corp's
 * token must come from it, not wait for the next retry of a credential WeCom
 * "refused" (30 minutes) with its value revoked.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { PlatformStore } from "../../src/platform/store.js";
import { SuitePlatform } from "../../src/wecomsuite/suite.js";
import { eventually } from "../support/harness.js";
import { CORP1, DK, SuiteHarness } from "../support/suite-platform.js";

let running: SuiteHarness | undefined;
afterEach(async () => {
  await running?.stop();
  running = undefined;
});

function suiteOf(s: SuiteHarness): SuitePlatform {
  const p = s.h.server.platforms.get(DK);
  if (!(p instanceof SuitePlatform)) throw new Error("no suite");
  return p;
}

describe("a 代开发 corp's permanent code reset during a token fetch", () => {
  it("serves the corp's token from the new code at once, with no 40001 left for clients", async () => {
    const s = (running = await SuiteHarness.start());
    const store = s.h.server.store as unknown as PlatformStore;
    await s.suite(DK).pushTicket();
    await s.suite(DK).install(CORP1);
    await eventually(() => expect(suiteOf(s).holds(CORP1)).toBe(true));
    const first = s.suite(DK).permanentCodeOf(CORP1)!;
    const held = (await s.h.get({ appId: CORP1, platformId: DK })).token!.accessToken;
    const agent = String(s.suite(DK).corp(CORP1)!.agentId);

    // WeCom cut the token; the refresh's gettoken (with the code held now) is slow to be answered.
    s.fake.invalidateWeComToken(CORP1, agent);
    s.fake.inject({ path: "/cgi-bin/gettoken", delayMs: 1000 });
    const gettokens = s.fake.calls("/cgi-bin/gettoken");
    const refreshing = s.h.refresh({ appId: CORP1, platformId: DK, staleToken: held }).then(
      (r) => r,
      (err: Error) => err,
    );
    await eventually(() => expect(s.fake.calls("/cgi-bin/gettoken")).toBe(gettokens + 1));

    // Meanwhile the provider resets the corp's permanent code: exchanged and stored before the gettoken is answered.
    expect((await s.suite(DK).resetPermanentCode(CORP1)).body).toBe("success");
    await eventually(async () => {
      expect(s.suite(DK).permanentCodeOf(CORP1)).not.toBe(first);
      expect((await store.authorizer(DK, CORP1))?.refreshToken).toBe(s.suite(DK).permanentCodeOf(CORP1));
    });

    // The refresh in flight is answered 40001 (its code is retired): the new code gets the token, for it and for readers.
    const refreshed = await refreshing;
    expect(refreshed).not.toBeInstanceOf(Error);
    const t = (await s.h.get({ appId: CORP1, platformId: DK }, 2000)).token!.accessToken;
    expect(s.fake.isWeComTokenValid(CORP1, agent, t)).toBe(true);
    expect((await store.authorizer(DK, CORP1))?.status).toBe("active");
    const listed = await s.list({ componentAppId: DK });
    expect(listed.authorizers.map((a) => [a.appId, a.lastErrorReason])).toEqual([[CORP1, ""]]);
    // The corp was never taken for one that must reinstall.
    expect(s.h.logs.text()).not.toContain("the corp must install the app again");
  });
});

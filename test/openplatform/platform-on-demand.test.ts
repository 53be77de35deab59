/**
 * An Open Platform whose accounts are mostly idle holds their tokens on
 * demand: nothing is fetched at the restore, the first GetToken fetches once
 * however many ask, the token is kept fresh while it is read, and left to
 * expire once idle (its refresh token stays).
 */
import { afterEach, describe, expect, it } from "vitest";
import { seededAuthorizerAppId } from "../../src/fake-wechat/component-authorizers.js";
import { eventually } from "../support/harness.js";
import { COMPONENT, PlatformHarness } from "../support/platform.js";

let running: PlatformHarness[] = [];
afterEach(async () => {
  await Promise.all(running.map((p) => p.stop()));
  running = [];
});

const N = 50;
const HOUR = 3600_000;

describe("authorizer tokens on demand", () => {
  it("fetches an account's token at its first read (once for 20 callers), refreshes it while read, and lets it expire when idle", async () => {
    const p = await PlatformHarness.start({ seedAuthorizers: N, platform: { authorizerTokens: "on_demand", idleAfterSeconds: 3 * 3600 } });
    running.push(p);
    const tokenCalls = () => p.calls("api_authorizer_token");
    await p.fake.component.pushTicket();
    // The restore stores every refresh token, and fetches no account's token.
    await eventually(async () => {
      await p.clock.advance(1000);
      expect((await p.list()).totalSize).toBe(N);
    });
    await p.clock.advance(60_000);
    expect(tokenCalls()).toBe(0);
    expect(p.h.server.engine.byKey(COMPONENT)!.current()).toBeDefined();

    // The first reads: one upstream call for 20 callers.
    const account = seededAuthorizerAppId(7);
    const answers = await Promise.all(Array.from({ length: 20 }, () => p.h.getToken(account)));
    expect(new Set(answers.map((a) => a.token!.accessToken)).size).toBe(1);
    expect(tokenCalls()).toBe(1);
    const first = answers[0]!.token!;
    expect(p.fake.component.isAuthorizerTokenValid(account, first.accessToken)).toBe(true);

    // Read within the idle period: refreshed ahead of expiry, the new token valid before the old one ends.
    await p.clock.advanceTo(first.expiresAt!.getTime() - 1000);
    await eventually(async () => {
      await p.clock.advance(0);
      expect(tokenCalls()).toBe(2);
    });
    const second = (await p.h.server.engine.byKey(account)!.current())!;
    expect(second.value).not.toBe(first.accessToken);

    // Not read for over three hours at its next refresh time: not refreshed, left to expire; no other account fetched meanwhile.
    await p.clock.advanceTo(second.expiresAt + 1000);
    expect(tokenCalls()).toBe(2);
    expect(p.h.server.engine.byKey(account)!.current()).toBeUndefined();
    // Read again: fetched at once from the stored refresh token.
    const again = (await p.h.getToken(account)).token!;
    expect(p.fake.component.isAuthorizerTokenValid(account, again.accessToken)).toBe(true);
    expect(tokenCalls()).toBe(3);
  }, 30_000);
});

/**
 * Push times a store holds from far ahead of the clock (a suite_ticket's
 * createdAt, a corp's de-authorization time: taken from a forged or
 * mis-clocked push, or a redirect install on a replica whose clock ran ahead)
 * make every real push after them "older" and refused: no ticket once the
 * held one expires, the corp's installs refused and their permanent codes
 * dropped. The suite brings them back to now as it loads, within the
 * receiver's clock-skew window, as an Open Platform does.
 */
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { FakeClock } from "../../src/clock.js";
import { FakeWeChat } from "../../src/fake-wechat/index.js";
import type { PlatformStore } from "../../src/platform/store.js";
import { FileStore } from "../../src/store/file-store.js";
import { SuitePlatform } from "../../src/wecomsuite/suite.js";
import { eventually, tempDir } from "../support/harness.js";
import { CORP1, SUITE, suiteFakeOptions, SuiteHarness } from "../support/suite-platform.js";
import { pushFirstTicket } from "../support/suite-ticket.js";

const DAY = 86_400_000;

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe("a WeCom suite whose store holds push times from the future", () => {
  it("brings them back to now at load: the next suite_ticket is stored and the corp installs", async () => {
    const clock = new FakeClock();
    const fake = new FakeWeChat(suiteFakeOptions(clock));
    await fake.start();
    cleanups.push(() => fake.close());
    const path = join(tempDir(), "tokens.json");
    const now = clock.now();
    const seed = new FileStore(path);
    await seed.load();
    await seed.saveTicket(SUITE, { value: "a-ticket-from-tomorrow", createdAt: now + DAY, receivedAt: now - 3600_000, expiresAt: now - 1800_000 });
    await seed.removeAuthorizer(SUITE, CORP1, now + DAY, []);
    await seed.close();

    const s = await SuiteHarness.start({ clock, wechat: fake, storePath: path });
    cleanups.push(() => s.stop());
    const store = s.h.server.store as unknown as PlatformStore;
    const suite = s.h.server.platforms.get(SUITE) as SuitePlatform;

    await pushFirstTicket(s);
    expect((await store.ticket(SUITE))?.value).toBe(fake.suite(SUITE).currentTicket());

    // The corp installs a minute after the restart.
    await clock.advance(60_000);
    await fake.suite(SUITE).install(CORP1);
    await eventually(async () => expect((await store.authorizer(SUITE, CORP1))?.refreshToken).toBe(fake.suite(SUITE).permanentCodeOf(CORP1)));
    expect(suite.holds(CORP1)).toBe(true);
    expect(s.h.logs.text()).toContain("stored push times in the future (a forged or mis-clocked push) brought back to now");
  });
});

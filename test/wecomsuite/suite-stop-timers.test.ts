/**
 * A WeCom suite's timers end with the server: after a shutdown nothing of
 * the suite is left to fire (a re-read of a corp's auth info waiting to be
 * tried again after change_auth, the second look at the suite token after a
 * suite_ticket arrived). Every other timer of the server is cleared by then
 * too, so the fake clock holds none.
 */
import { expect, it } from "vitest";
import { SuitePlatform } from "../../src/wecomsuite/suite.js";
import { eventually } from "../support/harness.js";
import { CORP1, SUITE, SuiteHarness } from "../support/suite-platform.js";

it("leaves no timer running after the server stopped", async () => {
  const s = await SuiteHarness.start();
  try {
    await s.suite().pushTicket();
    await s.suite().install(CORP1);
    await eventually(() => expect((s.h.server.platforms.get(SUITE) as SuitePlatform).holds(CORP1)).toBe(true));
    // WeCom is busy: the re-read after change_auth waits to be tried again.
    s.suite().failNext(-1, { path: "/cgi-bin/service/get_auth_info", times: 10 });
    expect((await s.suite().change(CORP1)).body).toBe("success");
    await eventually(() => expect(s.h.logs.text()).toContain("could not re-read the corp's auth info yet"));
    // The fake WeCom's own timers (its periodic pushes) go first.
    await s.fake.close();
    await s.h.server.shutdown(500);
    expect(s.clock.pending()).toBe(0);
  } finally {
    await s.stop();
  }
});

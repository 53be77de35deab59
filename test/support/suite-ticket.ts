/**
 * The first suite_ticket of a test, pushed without racing the server's first
 * suite token attempt. An attempt that reads the store just before the
 * ticket lands fails and is retried on the fake clock, and moving the clock
 * while a fetch is in flight makes WeCom's token outlive the server's record
 * of it (the refresh at its expiry then gets the same token back). So: wait
 * until every server has answered NO_SUITE_TICKET (its attempt is over),
 * push, and wait for the suite token with the clock standing still.
 */
import { expect } from "vitest";
import { statusDetailsOf } from "../../packages/client/src/status-details.js";
import { eventually, grpcError } from "./harness.js";
import { SUITE, type SuiteHarness } from "./suite-platform.js";

/** Until the server answers NO_SUITE_TICKET for the suite token. */
export async function saysNoTicket(s: SuiteHarness, suiteId = SUITE): Promise<void> {
  await eventually(async () => {
    const err = await grpcError(s.h.get({ appId: suiteId }, 300));
    expect(statusDetailsOf(err.metadata)?.errorInfo?.reason).toBe("NO_SUITE_TICKET");
  });
}

/** Pushes the first suite_ticket to `to`; resolves once every server in `all` serves a suite token WeCom takes. */
export async function pushFirstTicket(to: SuiteHarness, all: readonly SuiteHarness[] = [to], suiteId = SUITE): Promise<void> {
  for (const s of all) await saysNoTicket(s, suiteId);
  const suite = to.fake.suite(suiteId);
  suite.pushUrl = to.pushUrl(suiteId);
  expect((await suite.pushTicket()).body).toBe("success");
  await eventually(async () => {
    await to.clock.advance(0);
    for (const s of all) expect(suite.isSuiteTokenValid((await s.h.get({ appId: suiteId }, 300)).token!.accessToken)).toBe(true);
  });
}

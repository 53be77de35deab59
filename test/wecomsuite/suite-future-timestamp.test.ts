/**
 * A WeCom suite push whose TimeStamp is far ahead of the server's clock. A
 * suite's pushes carry their time in <TimeStamp> (an Open Platform's in
 * <CreateTime>), and the stores order pushes by it: a suite_ticket "from
 * tomorrow" would make every real ticket after it older and refused (no
 * suite token once it expires), and a cancel_auth from tomorrow would refuse
 * the corp's installs until then. WeCom creates a push before it sends it, so
 * the receiver refuses such a push (403 future_create_time) as it does an
 * Open Platform's with a CreateTime that far ahead.
 */
import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import type { PlatformStore } from "../../src/platform/store.js";
import { SuitePlatform } from "../../src/wecomsuite/suite.js";
import { eventually } from "../support/harness.js";
import { CORP1, SUITE, SuiteHarness } from "../support/suite-platform.js";
import { pushFirstTicket } from "../support/suite-ticket.js";

const DAY_S = 24 * 3600;

let running: SuiteHarness | undefined;
afterEach(async () => {
  await running?.stop();
  running = undefined;
});

function suiteOf(s: SuiteHarness): SuitePlatform {
  const p = s.h.server.platforms.get(SUITE);
  if (!(p instanceof SuitePlatform)) throw new Error("no suite");
  return p;
}

const seconds = (s: SuiteHarness) => Math.floor(s.clock.now() / 1000);

/** The receiver's count of pushes to SUITE with this result. */
async function pushes(s: SuiteHarness, result: string): Promise<number> {
  const text = await (await request(`http://127.0.0.1:${s.h.server.metricsPort}/metrics`)).body.text();
  let n = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith("wxtoken_platform_pushes_total{") && line.includes(`component="${SUITE}"`) && line.includes(`result="${result}"`)) n += Number(line.split(" ").at(-1));
  }
  return n;
}

describe("a WeCom suite push with a TimeStamp far ahead", () => {
  it("is refused (403 future_create_time), so the real pushes after it still count", async () => {
    const s = (running = await SuiteHarness.start({ config: { metrics: { listen: "127.0.0.1:0" } } }));
    const store = s.h.server.store as unknown as PlatformStore;

    const ticket = await s.suite().send({ SuiteId: SUITE, InfoType: "suite_ticket", TimeStamp: seconds(s) + DAY_S, SuiteTicket: "ticket-from-tomorrow" });
    expect(ticket.status).toBe(403);
    expect(await store.ticket(SUITE)).toBeUndefined();
    expect(await pushes(s, "future_create_time")).toBe(1);

    // WeCom's own pushes are taken: the suite token is served.
    await pushFirstTicket(s);
    await s.suite().install(CORP1);
    await eventually(() => expect(suiteOf(s).holds(CORP1)).toBe(true));

    // A cancel_auth from tomorrow is refused too: the corp stays.
    const cancel = await s.suite().send({ SuiteId: SUITE, InfoType: "cancel_auth", TimeStamp: seconds(s) + DAY_S, AuthCorpId: CORP1 });
    expect(cancel.status).toBe(403);
    expect(suiteOf(s).holds(CORP1)).toBe(true);
    expect(await store.authorizer(SUITE, CORP1)).toBeDefined();
    expect(await pushes(s, "future_create_time")).toBe(2);

    // Within the skew window, a TimeStamp a little ahead is taken (WeCom's clock is not ours).
    const near = await s.suite().send({ SuiteId: SUITE, InfoType: "suite_ticket", TimeStamp: seconds(s) + 60, SuiteTicket: "ticket-a-minute-ahead" });
    expect(near.status).toBe(200);
    expect((await store.ticket(SUITE))?.value).toBe("ticket-a-minute-ahead");
  });
});

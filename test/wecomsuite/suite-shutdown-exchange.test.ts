/**
 * A WeCom suite stopped while it exchanges a pushed authorization code: WeCom
 * hands out the corp's permanent code once (the code then answers 40078), so
 * an answer that lands during the shutdown must still reach the store before
 * it closes. Otherwise the code kept for the exchange is tried again after the
 * restart, WeCom refuses it as used, and the corp is lost until it reinstalls.
 */
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { FakeClock } from "../../src/clock.js";
import { FakeWeChat } from "../../src/fake-wechat/index.js";
import type { PlatformStore } from "../../src/platform/store.js";
import { SuitePlatform } from "../../src/wecomsuite/suite.js";
import { eventually, tempDir } from "../support/harness.js";
import { CORP1, SUITE, suiteFakeOptions, SuiteHarness, type SuiteHarnessOptions } from "../support/suite-platform.js";
import { pushFirstTicket } from "../support/suite-ticket.js";

const PERMANENT_CODE = "/cgi-bin/service/get_permanent_code";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const STORES: [string, (dir: string) => Pick<SuiteHarnessOptions, "storePath" | "config">][] = [
  ["the file store", (dir) => ({ storePath: join(dir, "tokens.json") })],
  ["the SQLite store", (dir) => ({ config: { store: { type: "sqlite", path: join(dir, "wxtoken.db") } } })],
];

async function serve(o: SuiteHarnessOptions): Promise<SuiteHarness> {
  const s = await SuiteHarness.start(o);
  let stopped: Promise<void> | undefined;
  const stop = s.stop.bind(s);
  s.stop = () => (stopped ??= stop());
  cleanups.push(() => s.stop());
  return s;
}

function suiteOf(s: SuiteHarness): SuitePlatform {
  const p = s.h.server.platforms.get(SUITE);
  if (!(p instanceof SuitePlatform)) throw new Error("no suite");
  return p;
}

const store = (s: SuiteHarness) => s.h.server.store as unknown as PlatformStore;

describe.each(STORES)("a WeCom suite stopped mid-exchange on %s", (_name, storeOf) => {
  it("stores the permanent code WeCom hands out while the server shuts down, so the corp is served after the restart", async () => {
    const clock = new FakeClock();
    const fake = new FakeWeChat(suiteFakeOptions(clock));
    await fake.start();
    cleanups.push(() => fake.close());
    const where = storeOf(tempDir());
    const s1 = await serve({ clock, wechat: fake, ...where });
    await pushFirstTicket(s1);

    // WeCom is slow to answer the exchange: the shutdown starts while it is in flight.
    fake.inject({ path: PERMANENT_CODE, delayMs: 700 });
    const calls = fake.calls(PERMANENT_CODE);
    expect((await s1.suite().install(CORP1)).body).toBe("success");
    await eventually(() => expect(fake.calls(PERMANENT_CODE)).toBe(calls + 1));
    await s1.stop();
    // WeCom issued the corp's permanent code (the code is used now).
    const issued = fake.suite(SUITE).permanentCodeOf(CORP1);
    expect(issued).toBeDefined();

    const s2 = await serve({ clock, wechat: fake, ...where });
    fake.suite(SUITE).pushUrl = undefined;
    // The corp is back from the store, with the code WeCom issued, and nothing is left to exchange.
    expect((await store(s2).authorizer(SUITE, CORP1))?.refreshToken).toBe(issued);
    expect(suiteOf(s2).holds(CORP1)).toBe(true);
    await eventually(async () => expect(await store(s2).pendingCodes(SUITE)).toEqual([]));
    expect(s2.h.logs.text()).not.toContain("must install the app again");
  });
});

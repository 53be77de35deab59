/**
 * A WeCom suite with thousands of installed corps costs work in proportion
 * to what changed, counted rather than timed (the 100,000-corp numbers are
 * bench/suite-scale.ts's): a restart from the store serves every corp with no
 * get_permanent_code; the corps' tokens are fetched, and two hours later
 * refreshed, under the suite's ceiling in every second and minute, none
 * expiring; one cancel_auth, create_auth, change_auth or reset_permanent_code
 * adds or removes only that corp's credentials, writes only its record and
 * calls WeCom only for it; a page of ListAuthorizers looks at that page only.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { FakeClock } from "../../src/clock.js";
import { credentialKey } from "../../src/core/credential-id.js";
import type { MembershipEvent } from "../../src/core/engine.js";
import { FakeWeChat } from "../../src/fake-wechat/index.js";
import type { StoredAuthorizer } from "../../src/platform/store.js";
import { SqliteStore } from "../../src/store/sqlite-store.js";
import { SuitePlatform } from "../../src/wecomsuite/suite.js";
import { eventually } from "../support/harness.js";
import { AES_KEY, CALLBACK_TOKEN, DK, SUITE, SUITE_SECRET, suiteFakeOptions, SuiteHarness } from "../support/suite-platform.js";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const N = 2000;
const CEILING = 50;
const DAY = 86_400_000;
const corpOf = (i: number) => `wwscale${String(i).padStart(11, "0")}`;
const CORPS = Array.from({ length: N }, (_, i) => corpOf(i));
const KEYS = { secret: SUITE_SECRET, token: CALLBACK_TOKEN, encodingAesKey: AES_KEY };

/** The platform store's methods counted: a change about one corp must not read or write them all. */
const COUNTED = ["authorizers", "authorizer", "authorizersOf", "saveAuthorizer", "saveAuthorizers", "updateAuthorizer", "removeAuthorizer", "savePendingCode", "pendingCodes", "dropPendingCode", "save"] as const;
type Counted = (typeof COUNTED)[number];

/** A SQLite store whose platform methods (and token saves) count their calls. */
function countingStore(path: string): { store: SqliteStore; calls: Record<Counted, number> } {
  const store = new SqliteStore({ path });
  const calls = Object.fromEntries(COUNTED.map((m) => [m, 0])) as Record<Counted, number>;
  const methods = store as unknown as Record<Counted, (...args: unknown[]) => unknown>;
  for (const m of COUNTED) {
    const original = methods[m].bind(store);
    methods[m] = (...args: unknown[]) => {
      calls[m]++;
      return original(...args);
    };
  }
  return { store, calls };
}

async function tempDb(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "wxtoken-suite-scale-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return join(dir, "wxtoken.db");
}

/** A started fake WeCom whose suites SUITE and DK each hold these corps installed (no push). */
async function fakeWith(clock: FakeClock, corps: { suite: readonly string[]; dk: readonly string[] }): Promise<FakeWeChat> {
  const installed = (ids: readonly string[]) => Object.fromEntries(ids.map((c) => [c, {}]));
  const fake = new FakeWeChat(
    suiteFakeOptions(clock, {
      suites: [
        { suiteId: SUITE, ...KEYS, corps: installed(corps.suite) },
        { suiteId: DK, ...KEYS, corps: installed(corps.dk) },
      ],
    }),
  );
  await fake.start();
  cleanups.push(() => fake.close());
  return fake;
}

/**
 * The store as a previous run left it: a suite_ticket the fake takes, each
 * corp's permanent code and agent, and (with `tokens`) a valid stored value
 * for each of the corps' credentials.
 */
async function seed(path: string, clock: FakeClock, fake: FakeWeChat, suiteId: string, corps: readonly string[], o: { kinds?: readonly string[] } = {}): Promise<void> {
  const store = new SqliteStore({ path });
  await store.load();
  const now = clock.now();
  const suite = fake.suite(suiteId);
  await store.saveTicket(suiteId, { value: suite.state.newTicket(), createdAt: now - 60_000, receivedAt: now - 60_000, expiresAt: now + 25 * 60_000 });
  const records: StoredAuthorizer[] = corps.map((corpId) => ({
    appId: corpId,
    refreshToken: suite.permanentCodeOf(corpId)!,
    status: "active",
    authorizedAt: now - DAY,
    updatedAt: now - DAY,
    agents: [String(suite.corp(corpId)!.agentId)],
  }));
  for (let i = 0; i < records.length; i += 1000) await store.saveAuthorizers(suiteId, records.slice(i, i + 1000));
  for (const kind of o.kinds ?? []) {
    for (const corpId of corps) {
      const key = credentialKey({ appId: corpId, platform: suiteId, kind: kind as "access_token" });
      store.save({ key, value: `stored-${key}`, version: 1, obtainedAt: now - 600_000, expiresAt: now + 6600_000 });
    }
  }
  await store.close();
}

function suiteOf(s: SuiteHarness, id = SUITE): SuitePlatform {
  const p = s.h.server.platforms.get(id);
  if (!(p instanceof SuitePlatform)) throw new Error(`no suite ${id}`);
  return p;
}

/** How many of the corps' tokens the server holds valid now. */
function served(s: SuiteHarness, corps: readonly string[], suiteId = SUITE): number {
  const suite = suiteOf(s, suiteId);
  let n = 0;
  for (const corpId of corps) if (s.h.server.engine.byKey(suite.tenantKey(corpId))?.current()) n++;
  return n;
}

describe("a WeCom suite at scale", () => {
  it("restarts from 2,000 stored corps with no get_permanent_code, fetches their tokens under the ceiling, and refreshes them two hours later under it, none expired", async () => {
    const clock = new FakeClock();
    const fake = await fakeWith(clock, { suite: CORPS, dk: [] });
    const path = await tempDb();
    await seed(path, clock, fake, SUITE, CORPS);
    const { store, calls } = countingStore(path);
    const s = await SuiteHarness.start({ clock, wechat: fake, store, suite: { corpTickets: [], maxCallsPerSecond: CEILING, maxConcurrentCalls: 16 } });
    cleanups.push(() => s.stop());

    // The store read once per suite at start, whole; nothing written back.
    expect(suiteOf(s).authorizerCount()).toBe(N);
    expect(calls.authorizers).toBe(2);
    expect(calls.saveAuthorizer + calls.saveAuthorizers + calls.updateAuthorizer + calls.removeAuthorizer).toBe(0);
    // One scheduler entry per credential and expiry at most.
    expect(s.h.server.engine.scheduled).toBeLessThanOrEqual(2 * (N + 10));

    await eventually(async () => {
      await clock.advance(1000);
      expect(served(s, CORPS)).toBe(N);
    }, 20_000);
    expect(s.calls("get_permanent_code")).toBe(0);
    expect(s.calls("get_suite_token", SUITE)).toBe(1);
    const first = fake.rates().byPath["/cgi-bin/service/get_corp_token"]!;
    expect(first.calls).toBe(N);
    expect(first.busiestSecond).toBeLessThanOrEqual(CEILING);
    // One permanent code read per corp fetched (each from the store: another replica may have rotated it).
    expect(calls.authorizer).toBe(N);
    expect(calls.authorizers).toBe(2);

    // Two hours on, the 2,000 tokens come due: refreshed under the ceiling, while the fake pushes a ticket every 10 minutes.
    fake.resetCounts();
    const tokens = CORPS.map((c) => s.h.server.engine.byKey(suiteOf(s).tenantKey(c))!.current()!);
    const firstExpiry = Math.min(...tokens.map((t) => t.expiresAt));
    // Expired by the server's books, or by WeCom's: a value WeCom handed back unchanged keeps its first expiry.
    const agents = new Map(CORPS.map((c) => [c, String(fake.suite(SUITE).corp(c)!.agentId)]));
    const validAtWeCom = () => CORPS.filter((c) => fake.isWeComTokenValid(c, agents.get(c)!, s.h.server.engine.byKey(suiteOf(s).tenantKey(c))?.current()?.value ?? "")).length;
    let expired = 0;
    let refused = 0;
    while (clock.now() < firstExpiry + 600_000) {
      await clock.advance(5000);
      expired += N - served(s, CORPS);
      refused += N - validAtWeCom();
    }
    const wave = fake.rates().byPath["/cgi-bin/service/get_corp_token"]!;
    expect(wave.calls).toBeGreaterThanOrEqual(N);
    expect(wave.busiestSecond).toBeLessThanOrEqual(CEILING);
    expect(wave.busiestMinute).toBeLessThanOrEqual(CEILING * 60);
    expect(expired).toBe(0);
    expect(refused).toBe(0);
    expect(s.calls("get_permanent_code")).toBe(0);
    expect(calls.authorizers).toBe(2);
    expect(s.suite().pushFailures).toBe(0);
  }, 60_000);

  it("one cancel_auth, create_auth, change_auth or reset_permanent_code among 2,000 corps touches that corp only; a page of ListAuthorizers reads that page only", async () => {
    const clock = new FakeClock();
    const dkCorps = CORPS.slice(0, N / 2);
    const fake = await fakeWith(clock, { suite: CORPS, dk: dkCorps });
    const path = await tempDb();
    const kinds = ["access_token", "jsapi_ticket", "agent_config_ticket"];
    await seed(path, clock, fake, SUITE, CORPS, { kinds });
    await seed(path, clock, fake, DK, dkCorps, { kinds });
    const { store, calls } = countingStore(path);
    const s = await SuiteHarness.start({ clock, wechat: fake, store, suite: { maxCallsPerSecond: CEILING } });
    cleanups.push(() => s.stop());
    await clock.advance(0);
    // Every corp's token and tickets came from the store; only the suite tokens were asked for.
    expect(served(s, CORPS)).toBe(N);
    expect(served(s, dkCorps, DK)).toBe(N / 2);
    await eventually(() => expect(s.calls("get_suite_token")).toBe(2));
    await eventually(() => expect(s.h.server.engine.byKey(DK)?.current()).toBeDefined());
    expect(s.calls("get_corp_token") + s.fake.calls("/cgi-bin/gettoken") + s.calls("get_permanent_code")).toBe(0);

    const events: MembershipEvent["type"][] = [];
    s.h.server.engine.onMembership((e) => events.push(e.type));
    /**
     * What one change costs from now: membership events, the store calls made
     * (by method), upstream calls (by path), and SQL statements run (one
     * corp's rows: a rewrite of the suite's corps would be thousands).
     */
    const measure = () => {
      const before = { calls: { ...calls }, statements: store.work.statements, events: events.length };
      fake.resetCounts();
      return () => {
        const since = events.slice(before.events);
        return {
          added: since.filter((e) => e === "added").length,
          removed: since.filter((e) => e === "removed").length,
          store: Object.fromEntries(COUNTED.filter((m) => calls[m] !== before.calls[m]).map((m) => [m, calls[m] - before.calls[m]])),
          upstream: Object.fromEntries(Object.entries(fake.rates().byPath).map(([p, r]) => [p.slice("/cgi-bin/".length), r.calls])),
          statements: store.work.statements - before.statements,
        };
      };
    };
    const STATEMENTS = 30;

    // cancel_auth: the corp's token and two tickets leave; its record and their stored values dropped in one write; no call to WeCom.
    const gone = CORPS[7]!;
    let cost = measure();
    expect((await s.suite().cancel(gone)).body).toBe("success");
    await eventually(() =>
      expect(cost()).toEqual({ added: 0, removed: 3, store: { removeAuthorizer: 1, authorizer: 1 }, upstream: {}, statements: expect.any(Number) }),
    );
    expect(cost().statements).toBeLessThanOrEqual(STATEMENTS);
    expect(suiteOf(s).holds(gone)).toBe(false);
    expect(suiteOf(s).authorizerCount()).toBe(N - 1);

    // create_auth: the code kept, exchanged once (the answer carries the corp's first token), the corp stored, the code dropped; its two tickets fetched.
    const newcomer = corpOf(N);
    cost = measure();
    expect((await s.suite().install(newcomer)).body).toBe("success");
    await eventually(async () => {
      await clock.advance(100);
      expect(cost()).toEqual({
        added: 3,
        removed: 0,
        store: { savePendingCode: 1, saveAuthorizer: 1, dropPendingCode: 1, authorizer: 1, save: 3 },
        upstream: { "service/get_permanent_code": 1, get_jsapi_ticket: 1, "ticket/get": 1 },
        statements: expect.any(Number),
      });
    });
    expect(cost().statements).toBeLessThanOrEqual(STATEMENTS);
    expect(served(s, [newcomer])).toBe(1);
    expect(suiteOf(s).authorizerCount()).toBe(N);

    // change_auth: the corp's auth info read again, its record updated; nobody joins or leaves.
    const changed = CORPS[11]!;
    cost = measure();
    expect((await s.suite().change(changed, { agentName: "renamed" })).body).toBe("success");
    await eventually(() =>
      expect(cost()).toEqual({ added: 0, removed: 0, store: { updateAuthorizer: 1, authorizer: 1 }, upstream: { "service/get_auth_info": 1 }, statements: expect.any(Number) }),
    );
    expect(cost().statements).toBeLessThanOrEqual(STATEMENTS);

    // reset_permanent_code (代开发): the new code replaces the old one in one compare-and-set. The corp's
    // token is not asked for again: the one held stays valid until its expiry.
    const reset = dkCorps[5]!;
    const oldCode = fake.suite(DK).permanentCodeOf(reset);
    cost = measure();
    expect((await s.suite(DK).resetPermanentCode(reset)).body).toBe("success");
    await eventually(() =>
      expect(cost()).toEqual({
        added: 0,
        removed: 0,
        store: { savePendingCode: 1, updateAuthorizer: 1, dropPendingCode: 1, authorizer: 1 },
        upstream: { "service/get_permanent_code": 1 },
        statements: expect.any(Number),
      }),
    );
    expect(cost().statements).toBeLessThanOrEqual(STATEMENTS);
    expect((await store.authorizer(DK, reset))?.refreshToken).toBe(fake.suite(DK).permanentCodeOf(reset));
    expect(fake.suite(DK).permanentCodeOf(reset)).not.toBe(oldCode);

    // Across the four changes: no whole read of a suite's corps (only the two at start), no batch write.
    expect(calls.authorizers).toBe(2);
    expect(calls.saveAuthorizers).toBe(0);

    // One page of 100 among 2,000: the page's corps are looked at, not all of them, and the store not at all.
    const engine = s.h.server.engine;
    const byKey = engine.byKey.bind(engine);
    let looked = 0;
    engine.byKey = (key: string) => (looked++, byKey(key));
    cost = measure();
    const page = await s.list({ pageSize: 100 });
    expect(page.authorizers).toHaveLength(100);
    expect(page.totalSize).toBe(N);
    expect(page.nextPageToken).not.toBe("");
    expect(looked).toBeGreaterThan(0);
    expect(looked).toBeLessThanOrEqual(2 * 100 + 2);
    expect(cost()).toEqual({ added: 0, removed: 0, store: {}, upstream: {}, statements: 0 });
  }, 60_000);
});

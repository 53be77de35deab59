/**
 * A platform with thousands of accounts costs work in proportion to them,
 * counted rather than timed (the 100,000-account numbers are the scale
 * bench's): a restore from WeChat's list adds each account once, in batches
 * to the store; a restart from the store serves every account with no
 * upstream call; refreshes of tokens obtained together stay under the
 * platform's ceiling in every minute, and none expires.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { AuthorizerStatus } from "../../generated/wxtoken/v1/token_service.js";
import type { MembershipEvent } from "../../src/core/engine.js";
import { seededAuthorizerAppId } from "../../src/fake-wechat/component-authorizers.js";
import { SqliteStore } from "../../src/store/sqlite-store.js";
import { eventually } from "../support/harness.js";
import { COMPONENT, PlatformHarness } from "../support/platform.js";

let running: PlatformHarness[] = [];
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(running.map((p) => p.stop()));
  running = [];
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function tempDb(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "wxtoken-scale-"));
  dirs.push(dir);
  return join(dir, "wxtoken.db");
}

/** Valid tokens held for every authorizer (their credentials' current values). */
function served(p: PlatformHarness, n: number): number {
  let count = 0;
  for (let i = 0; i < n; i++) if (p.h.server.engine.byKey(seededAuthorizerAppId(i))?.current()) count++;
  return count;
}

/** Moves the shared clock on in steps, so that each step's paced fetches land before the next. */
async function runFor(p: PlatformHarness, ms: number, step = 1000): Promise<void> {
  for (let t = 0; t < ms; t += step) await p.clock.advance(step);
}

const N = 2000;
const CEILING = 50;

describe("a platform at scale", () => {
  it("restores 2,000 accounts from WeChat's list with O(N) engine and store work, at the ceiling, and refreshes them spread out two hours later", async () => {
    const path = await tempDb();
    const store = new SqliteStore({ path });
    const p = await PlatformHarness.start({ seedAuthorizers: N, store, platform: { maxCallsPerSecond: CEILING, maxConcurrentCalls: 16 } });
    running.push(p);
    const events: MembershipEvent["type"][] = [];
    p.h.server.engine.onMembership((e) => events.push(e.type));
    const before = { ...store.work };
    // The first ticket arrives: the component token, then the list (the store holds no account), then each account's token.
    await p.fake.component.pushTicket();
    await eventually(async () => {
      await p.clock.advance(1000);
      expect(served(p, N)).toBe(N);
    }, 15_000);
    // Each account joined once: no rebuild of the others per addition.
    expect(events.filter((e) => e === "added")).toHaveLength(N);
    expect(events.filter((e) => e === "removed")).toHaveLength(0);
    // The store: the accounts in batches, then about one write per token and quota count (coalesced per tick).
    const transactions = store.work.transactions - before.transactions;
    const statements = store.work.statements - before.statements;
    expect(transactions).toBeLessThan(2 * N);
    expect(statements).toBeLessThan(12 * N);
    // Fetched at the ceiling: no second held more than it.
    const restore = p.fake.rates().byPath["/cgi-bin/component/api_authorizer_token"]!;
    expect(restore.calls).toBe(N);
    expect(restore.busiestSecond).toBeLessThanOrEqual(CEILING);
    expect(p.h.logs.text()).toContain(`authorizer list applied: ${N.toLocaleString("en-US")} of ${N.toLocaleString("en-US")}`);

    // Two hours on, the 2,000 tokens obtained together come due: spread under the ceiling, none expired.
    p.fake.resetCounts();
    const firstExpiry = Math.min(...Array.from({ length: N }, (_, i) => p.h.server.engine.byKey(seededAuthorizerAppId(i))!.current()!.expiresAt));
    let expired = 0;
    while (p.clock.now() < firstExpiry + 600_000) {
      await p.clock.advance(5000);
      expired += N - served(p, N);
    }
    const wave = p.fake.rates().byPath["/cgi-bin/component/api_authorizer_token"]!;
    expect(wave.calls).toBeGreaterThanOrEqual(N);
    expect(wave.busiestMinute).toBeLessThanOrEqual(CEILING * 60);
    expect(wave.busiestSecond).toBeLessThanOrEqual(CEILING);
    expect(expired).toBe(0);
  }, 60_000);

  it("restarts from a store of 10,000 accounts with no upstream call and serves every one", async () => {
    const n = 10_000;
    const path = await tempDb();
    // The store as a previous run left it: the ticket, the component token and every account with a valid token.
    const seeding = new SqliteStore({ path });
    await seeding.load();
    const now = Date.UTC(2026, 0, 1);
    await seeding.saveTicket(COMPONENT, { value: "ticket-1", createdAt: now - 60_000, receivedAt: now - 60_000, expiresAt: now + 11 * 3600_000 });
    const accounts = Array.from({ length: n }, (_, i) => ({ appId: seededAuthorizerAppId(i), refreshToken: `refresh-${i}`, status: "active" as const, authorizedAt: now - 86_400_000, updatedAt: now - 86_400_000 }));
    for (let i = 0; i < n; i += 1000) await seeding.saveAuthorizers(COMPONENT, accounts.slice(i, i + 1000));
    seeding.save({ key: COMPONENT, value: "component-token", version: 3, obtainedAt: now - 600_000, expiresAt: now + 6600_000 });
    for (let i = 0; i < n; i++) seeding.save({ key: seededAuthorizerAppId(i), value: `token-${i}`, version: 1, obtainedAt: now - 600_000, expiresAt: now + 6600_000 });
    await seeding.close();

    const store = new SqliteStore({ path });
    const p = await PlatformHarness.start({ seedAuthorizers: n, store });
    running.push(p);
    await p.clock.advance(0);
    expect(served(p, n)).toBe(n);
    expect(p.h.server.engine.byKey(COMPONENT)!.current()!.value).toBe("component-token");
    // Paged listing sees all of them with their tokens.
    let seen = 0;
    let pageToken = "";
    do {
      const page = await p.list({ pageSize: 1000, pageToken });
      seen += page.authorizers.filter((a) => a.status === AuthorizerStatus.AUTHORIZER_STATUS_ACTIVE && a.tokenVersion === 1).length;
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
    expect(seen).toBe(n);
    expect(p.fake.rates().total.calls).toBe(0);
    // One scheduler entry per credential and expiry at most; one clock timer for them all.
    expect(p.h.server.engine.scheduled).toBeLessThanOrEqual(2 * (n + 1));
  }, 60_000);
});

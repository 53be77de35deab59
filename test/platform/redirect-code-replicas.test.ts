/**
 * AuthorizeByCode behind a load balancer: a business server whose call
 * timed out retries the same redirect code, and the retry reaches another
 * replica sharing Redis (or the one server, restarted on its SQLite store).
 * It gets the tenant the first exchange authorized (not WeChat's "code
 * already used"), WeChat is asked once, and the replica serves the tenant's
 * token as it answers. Real replicas on the shared Redis, the fake WeChat
 * over real HTTP, one injected clock.
 */
import { Metadata, status } from "@grpc/grpc-js";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { AuthorizeByCodeRequest, type AuthorizeByCodeResponse } from "../../generated/wxtoken/v1/token_service.js";
import { FakeClock } from "../../src/clock.js";
import { FakeWeChat } from "../../src/fake-wechat/index.js";
import { silentLogger } from "../../src/log.js";
import { RedisStore } from "../../src/store/redis-store.js";
import { eventually, grpcError, tempDir, type Harness } from "../support/harness.js";
import { AUTH1, COMPONENT, componentOptions, PlatformHarness, until } from "../support/platform.js";
import { dropPrefix, SHARED_REDIS_URL, uniquePrefix } from "../support/redis.js";
import { CORP2, SUITE, suiteFakeOptions, SuiteHarness } from "../support/suite-platform.js";
import { pushFirstTicket } from "../support/suite-ticket.js";
import { whileTicking } from "../support/ticking.js";

const PERMANENT_CODE = "/cgi-bin/service/get_permanent_code";
const QUERY_AUTH = "/cgi-bin/component/api_query_auth";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function redis(prefix: string): RedisStore {
  return new RedisStore({ url: SHARED_REDIS_URL, keyPrefix: prefix, lockLeaseMs: 5000, log: silentLogger });
}

function authorize(h: Harness, platformId: string, authCode: string, deadlineMs = 15_000): Promise<AuthorizeByCodeResponse> {
  return new Promise((resolve, reject) =>
    h.client.authorizeByCode(AuthorizeByCodeRequest.fromPartial({ platformId, authCode }), new Metadata(), { deadline: Date.now() + deadlineMs }, (err, res) =>
      err ? reject(err) : resolve(res),
    ),
  );
}

/** Two replicas of a WeCom suite on one Redis prefix, the suite token held by both. */
async function suiteCluster(): Promise<{ clock: FakeClock; fake: FakeWeChat; a: SuiteHarness; b: SuiteHarness }> {
  const clock = new FakeClock();
  const fake = new FakeWeChat(suiteFakeOptions(clock));
  await fake.start();
  cleanups.push(() => fake.close());
  const prefix = uniquePrefix();
  cleanups.push(() => dropPrefix(SHARED_REDIS_URL, prefix));
  const replicas: SuiteHarness[] = [];
  for (let i = 0; i < 2; i++) {
    const s = await SuiteHarness.start({ clock, wechat: fake, store: redis(prefix) });
    cleanups.push(() => s.stop());
    replicas.push(s);
  }
  await pushFirstTicket(replicas[0]!, replicas);
  return { clock, fake, a: replicas[0]!, b: replicas[1]! };
}

describe("a redirect code retried on another replica", () => {
  it("WeCom suite: the retry answers the corp the first exchange installed; get_permanent_code is called once; the corp is served there at once", async () => {
    const { fake, a, b } = await suiteCluster();
    const { authCode } = fake.suite(SUITE).installByRedirect(CORP2);
    const exchanges = fake.calls(PERMANENT_CODE);
    const first = await authorize(a.h, SUITE, authCode);
    expect(first.appId).toBe(CORP2);
    const retried = await authorize(b.h, SUITE, authCode);
    expect(retried).toEqual(first);
    expect(fake.calls(PERMANENT_CODE)).toBe(exchanges + 1);
    const token = (await b.h.get({ appId: CORP2, platformId: SUITE }, 300)).token!.accessToken;
    expect(b.fake.isWeComTokenValid(CORP2, String(b.suite().corp(CORP2)!.agentId), token)).toBe(true);
  });

  it("WeCom suite: a retry that reaches B while A's exchange is still with WeChat waits for A's outcome instead of calling WeChat", async () => {
    const { clock, fake, a, b } = await suiteCluster();
    const { authCode } = fake.suite(SUITE).installByRedirect(CORP2);
    const exchanges = fake.calls(PERMANENT_CODE);
    // WeCom is slow to answer A's exchange (real time): the business server gives up on A and retries on B.
    fake.inject({ path: PERMANENT_CODE, delayMs: 500 });
    const viaA = authorize(a.h, SUITE, authCode);
    await eventually(() => expect(fake.calls(PERMANENT_CODE)).toBe(exchanges + 1));
    const viaB = authorize(b.h, SUITE, authCode);
    // B finds A's claim and waits; the clock stands still until A has its answer, so B cannot give up first.
    await eventually(() => expect(b.h.logs.text()).toContain("another replica is exchanging this authorization code; waiting for its outcome"));
    const first = await viaA;
    expect(first.appId).toBe(CORP2);
    const retried = await whileTicking(clock, viaB, { stepMs: 100 });
    expect(retried).toEqual(first);
    expect(fake.calls(PERMANENT_CODE)).toBe(exchanges + 1);
    expect((await b.h.get({ appId: CORP2, platformId: SUITE }, 300)).token!.accessToken).toBeTruthy();
  });

  it("WeCom suite: after A's exchange failed, a retry on B tries the code at once (nobody waits for a failed exchange)", async () => {
    const { fake, a, b } = await suiteCluster();
    const { authCode } = fake.suite(SUITE).installByRedirect(CORP2);
    fake.inject({ path: PERMANENT_CODE, errcode: -1 });
    expect((await grpcError(authorize(a.h, SUITE, authCode))).code).toBe(status.UNAVAILABLE);
    // The clock stands still: B answers only if it does not wait for A's claim.
    const retried = await authorize(b.h, SUITE, authCode, 3000);
    expect(retried.appId).toBe(CORP2);
    expect(b.h.logs.text()).not.toContain("waiting for its outcome");
  });

  it("WeCom suite on SQLite: a retry after a restart answers the same corp, with no exchange, even with no suite ticket held", async () => {
    const clock = new FakeClock();
    const fake = new FakeWeChat(suiteFakeOptions(clock));
    await fake.start();
    cleanups.push(() => fake.close());
    const path = join(tempDir(), "wxtoken.db");
    const config = { store: { type: "sqlite" as const, path } };
    const s1 = await SuiteHarness.start({ clock, wechat: fake, config });
    await pushFirstTicket(s1);
    const { authCode } = fake.suite(SUITE).installByRedirect(CORP2);
    const first = await authorize(s1.h, SUITE, authCode);
    await s1.stop();
    // The restarted server holds no suite_ticket and no suite token (as if none was kept): a new code could not be exchanged.
    const db = new Database(path);
    db.prepare("DELETE FROM tickets WHERE component = ?").run(SUITE);
    db.prepare("DELETE FROM tokens WHERE key = ?").run(SUITE);
    db.close();
    const exchanges = fake.calls(PERMANENT_CODE);
    const s2 = await SuiteHarness.start({ clock, wechat: fake, config });
    cleanups.push(() => s2.stop());
    expect((await grpcError(s2.h.get({ appId: SUITE }, 300))).code).toBe(status.UNAVAILABLE);
    expect(await authorize(s2.h, SUITE, authCode)).toEqual(first);
    expect(fake.calls(PERMANENT_CODE)).toBe(exchanges);
    // While a new code still needs the suite token.
    const fresh = fake.suite(SUITE).installByRedirect("wwcorpnewcorp0001").authCode;
    expect((await grpcError(authorize(s2.h, SUITE, fresh, 300))).code).toBe(status.UNAVAILABLE);
  });

  it("Open Platform: the retry answers the account the first exchange authorized; api_query_auth is called once", async () => {
    const clock = new FakeClock();
    const fake = new FakeWeChat({ apps: {}, clock, overlapMs: 300_000, component: componentOptions([AUTH1]) });
    await fake.start();
    cleanups.push(() => fake.close());
    const prefix = uniquePrefix();
    cleanups.push(() => dropPrefix(SHARED_REDIS_URL, prefix));
    const replicas: PlatformHarness[] = [];
    for (let i = 0; i < 2; i++) {
      const p = await PlatformHarness.start({ clock, fake, store: redis(prefix) });
      cleanups.push(() => p.stop());
      replicas.push(p);
    }
    const [a, b] = replicas as [PlatformHarness, PlatformHarness];
    await fake.component.pushTicket();
    await until(a, async () => {
      for (const p of replicas) expect(fake.component.isComponentTokenValid((await p.h.getToken(COMPONENT, 300)).token!.accessToken)).toBe(true);
    });
    const code = fake.component.state.authorize(AUTH1).code;
    const exchanges = fake.calls(QUERY_AUTH);
    const first = await authorize(a.h, COMPONENT, code);
    expect(first.appId).toBe(AUTH1);
    const retried = await authorize(b.h, COMPONENT, code);
    expect(retried).toEqual(first);
    expect(fake.calls(QUERY_AUTH)).toBe(exchanges + 1);
    const token = (await b.h.getToken(AUTH1, 300)).token!.accessToken;
    expect(fake.component.isAuthorizerTokenValid(AUTH1, token)).toBe(true);
  });
});

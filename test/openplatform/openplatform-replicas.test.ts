/**
 * An Open Platform served by replicas sharing Redis, as behind a load
 * balancer: a push may reach any of them; the ticket and refresh tokens go to
 * Redis; one component token fetch per cycle for the whole cluster; every
 * token a client is handed works (no 40001); a replica restarted, or Redis
 * itself restarted (with the operator's persistence), loses nothing.
 */
import { afterEach, describe, expect, it } from "vitest";
import { FakeClock } from "../../src/clock.js";
import { FakeWeChat } from "../../src/fake-wechat/index.js";
import { silentLogger } from "../../src/log.js";
import { RedisStore } from "../../src/store/redis-store.js";
import { eventually } from "../support/harness.js";
import { AUTH1, AUTH2, COMPONENT, componentOptions, PlatformHarness } from "../support/platform.js";
import { dropPrefix, SHARED_REDIS_URL, uniquePrefix } from "../support/redis.js";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function cluster(n: number, faults: Parameters<FakeWeChat["inject"]>[0][] = []) {
  const clock = new FakeClock();
  const fake = new FakeWeChat({ apps: {}, clock, overlapMs: 300_000, component: componentOptions() });
  for (const f of faults) fake.inject(f);
  await fake.start();
  cleanups.push(() => fake.close());
  const prefix = uniquePrefix();
  cleanups.push(() => dropPrefix(SHARED_REDIS_URL, prefix));
  const add = async () => {
    const store = new RedisStore({ url: SHARED_REDIS_URL, keyPrefix: prefix, lockLeaseMs: 5000, log: silentLogger });
    const p = await PlatformHarness.start({ clock, fake, store });
    cleanups.push(() => p.stop());
    return p;
  };
  const replicas = await Promise.all(Array.from({ length: n }, add));
  return { clock, fake, prefix, replicas, add };
}

/** Lets zero-delay timers run until check passes. */
function until(clock: FakeClock, check: () => void | Promise<void>): Promise<void> {
  return eventually(async () => {
    await clock.advance(0);
    await check();
  });
}

describe("an Open Platform on replicas sharing Redis", () => {
  it("with no ticket anywhere, WeChat is asked to push one once for the whole cluster", async () => {
    // WeChat is busy: asked to push, it does not (so no replica gets a ticket by chance).
    const { clock, fake, replicas } = await cluster(3, [{ path: "/cgi-bin/component/api_start_push_ticket", errcode: -1, times: Infinity }]);
    // Every replica tried the component token at start, and found no ticket.
    await until(clock, async () => {
      for (const r of replicas) {
        const answer = await r.h.getToken(COMPONENT, 300).then(
          () => "a token",
          (e: { details: string }) => e.details,
        );
        expect(answer).toMatch(/no valid component_verify_ticket/);
      }
    });
    expect(fake.calls("/cgi-bin/component/api_start_push_ticket")).toBe(1);
    // A push lands on one replica; all of them then have the component token.
    fake.clearFaults();
    fake.component.pushUrl = replicas[2]!.pushUrl;
    await fake.component.pushTicket();
    await until(clock, async () => {
      for (const r of replicas) expect(fake.component.isComponentTokenValid((await r.h.getToken(COMPONENT, 300)).token!.accessToken)).toBe(true);
    });
  });

  it("pushes reach any replica; one component token fetch per cycle; every token served works", async () => {
    const { clock, fake, replicas } = await cluster(3);
    const [a, b, c] = replicas as [PlatformHarness, PlatformHarness, PlatformHarness];
    // WeChat pushes the ticket to b (the balancer's choice); the authorizations to a and c.
    fake.component.pushUrl = b.pushUrl;
    await fake.component.pushTicket();
    await until(clock, async () => {
      for (const r of replicas) expect(fake.component.isComponentTokenValid((await r.h.getToken(COMPONENT, 300)).token!.accessToken)).toBe(true);
    });
    fake.component.pushUrl = a.pushUrl;
    expect(await fake.component.authorize(AUTH1)).toMatchObject({ status: 200, body: "success" });
    fake.component.pushUrl = c.pushUrl;
    expect(await fake.component.authorize(AUTH2)).toMatchObject({ status: 200, body: "success" });
    // Every replica serves both, with the token the authorization handed out.
    await until(clock, async () => {
      for (const r of replicas) {
        for (const appId of [AUTH1, AUTH2]) expect(fake.component.isAuthorizerTokenValid(appId, (await r.h.getToken(appId, 300)).token!.accessToken)).toBe(true);
        expect((await r.list()).authorizers.map((x) => x.appId)).toEqual([AUTH1, AUTH2]);
      }
    });
    expect(b.calls("api_component_token")).toBe(1);
    // The replicas that heard of an authorization adopted its token: no fetch of their own.
    expect(b.calls("api_authorizer_token")).toBe(0);

    // Six refresh cycles, a new ticket pushed to a different replica every 10 minutes.
    const invalid: string[] = [];
    for (let cycle = 0; cycle < 6; cycle++) {
      const before = b.calls("api_component_token");
      const due = Math.max(...(await Promise.all(replicas.map(async (r) => (await r.h.getToken(COMPONENT)).token!.refreshAt!.getTime()))));
      while (clock.now() < due) {
        fake.component.pushUrl = replicas[cycle % 3]!.pushUrl;
        await fake.component.pushTicket();
        await clock.advance(Math.min(600_000, due - clock.now()));
        // Clients on every replica, all the while: every token they get must work.
        for (const r of replicas) {
          for (const appId of [COMPONENT, AUTH1, AUTH2]) {
            const t = (await r.h.getToken(appId)).token!.accessToken;
            const ok = appId === COMPONENT ? fake.component.isComponentTokenValid(t) : fake.component.isAuthorizerTokenValid(appId, t);
            if (!ok) invalid.push(`${appId} at ${clock.now()}`);
          }
        }
      }
      // The refresh (one replica's, under the cluster's lock) is real I/O: wait for it, then for every replica to hold its value.
      await until(clock, async () => {
        expect(b.calls("api_component_token") - before).toBe(1);
        expect(new Set(await Promise.all(replicas.map(async (r) => (await r.h.getToken(COMPONENT)).token!.version))).size).toBe(1);
      });
    }
    expect(invalid).toEqual([]);
    // One fetch per authorizer per cycle too, never more.
    expect(b.calls("api_authorizer_token", AUTH1)).toBeLessThanOrEqual(7);
  });

  it("a replica started later, and one restarted, load the authorizers from Redis: no refresh token is lost", async () => {
    const { clock, fake, replicas, add } = await cluster(1);
    const [a] = replicas as [PlatformHarness];
    fake.component.pushUrl = a.pushUrl;
    await fake.component.pushTicket();
    await until(clock, async () => {
      await a.h.getToken(COMPONENT, 300);
    });
    await fake.component.authorize(AUTH1);
    await fake.component.authorize(AUTH2);
    const lists = a.calls("api_get_authorizer_list");
    const b = await add();
    // Stored authorizers: no list read, tokens shared (no fetch of its own).
    const fetched = a.calls("api_authorizer_token");
    await until(clock, async () => {
      for (const appId of [AUTH1, AUTH2]) expect(fake.component.isAuthorizerTokenValid(appId, (await b.h.getToken(appId, 300)).token!.accessToken)).toBe(true);
    });
    expect(a.calls("api_get_authorizer_list")).toBe(lists);
    expect(a.calls("api_authorizer_token")).toBe(fetched);
    // a goes away (a rolling restart); b refreshes alone with the stored refresh tokens.
    await a.stop();
    const t = (await b.h.getToken(AUTH1)).token!;
    await clock.advanceTo(t.expiresAt!.getTime());
    await until(clock, async () => {
      for (const appId of [AUTH1, AUTH2]) expect(fake.component.isAuthorizerTokenValid(appId, (await b.h.getToken(appId, 300)).token!.accessToken)).toBe(true);
    });
    expect(a.calls("api_get_authorizer_list")).toBe(lists);
  });
});

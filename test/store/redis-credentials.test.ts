/**
 * Tickets and WeCom agent tokens across replicas sharing real Redis: one
 * upstream fetch per refresh for the cluster, every replica's watchers told,
 * and each agent under its own key (two agents never share or overwrite).
 */
import { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { CredentialKind } from "../../generated/wxtoken/v1/token_service.js";
import { FakeClock } from "../../src/clock.js";
import { FakeWeChat } from "../../src/fake-wechat/index.js";
import { silentLogger } from "../../src/log.js";
import type { SharedState } from "../../src/core/coordinator.js";
import { RedisStore } from "../../src/store/redis-store.js";
import { APP, collect, eventually, Harness, SECRETS } from "../support/harness.js";
import { dropPrefix, SHARED_REDIS_URL, uniquePrefix } from "../support/redis.js";

const CORP = "ww0123456789abcdef";
const WECOM = { [CORP]: { "1000002": "agent-one-secret", "1000003": "agent-two-secret" } };
const JSAPI = CredentialKind.CREDENTIAL_KIND_JSAPI_TICKET;

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A replica's Redis store whose lock releases, for one credential, wait for open() once hold() was called (a slow Redis round trip). */
class SlowReleaseStore extends RedisStore {
  private gate: { key: string; opened: Promise<void>; open: () => void } | undefined;

  hold(key: string): void {
    let open = () => undefined as void;
    const opened = new Promise<void>((resolve) => (open = resolve));
    this.gate = { key, opened, open };
  }

  open(): void {
    this.gate?.open();
    this.gate = undefined;
  }

  override async withLock<T>(key: string, fn: (shared: SharedState) => Promise<T>): Promise<T> {
    const gate = this.gate?.key === key ? this.gate : undefined;
    const result = await super.withLock(key, fn);
    await gate?.opened;
    return result;
  }
}

async function cluster(n: number): Promise<{ clock: FakeClock; fake: FakeWeChat; replicas: Harness[]; stores: SlowReleaseStore[]; prefix: string }> {
  const clock = new FakeClock();
  const fake = new FakeWeChat({ apps: SECRETS, clock, wecom: WECOM });
  await fake.start();
  cleanups.push(() => fake.close());
  const prefix = uniquePrefix();
  cleanups.push(() => dropPrefix(SHARED_REDIS_URL, prefix));
  const stores: SlowReleaseStore[] = [];
  const replicas = await Promise.all(
    Array.from({ length: n }, async () => {
      const store = new SlowReleaseStore({ url: SHARED_REDIS_URL, keyPrefix: prefix, lockLeaseMs: 5000, log: silentLogger });
      stores.push(store);
      const h = await Harness.start({
        clock,
        fake,
        store,
        env: { A1: WECOM[CORP]["1000002"], A2: WECOM[CORP]["1000003"] },
        apps: [
          { appId: APP, secretEnv: `SECRET_${APP}`, tickets: ["jsapi"] },
          { type: "wecom", corpId: CORP, agent: "1000002", secretEnv: "A1" },
          { type: "wecom", corpId: CORP, agent: "1000003", secretEnv: "A2" },
        ],
      });
      cleanups.push(() => h.stop());
      return h;
    }),
  );
  return { clock, fake, replicas, stores, prefix };
}

/** A replica's jsapi ticket credential. */
const ticketOf = (h: Harness) => h.server.credential(APP, { kind: "jsapi_ticket" });

describe("credentials shared through Redis", () => {
  it("fetch a ticket once for the cluster, at cold start and when it is due, and push it to every replica's watchers", async () => {
    const c = await cluster(3);
    const first = await Promise.all(Array.from({ length: 60 }, (_, i) => c.replicas[i % 3]!.get({ appId: APP, kind: JSAPI })));
    expect(new Set(first.map((r) => r.token!.accessToken)).size).toBe(1);
    expect(c.fake.successfulTicketCalls(APP, "jsapi")).toBe(1);

    const watches = c.replicas.map((h) => collect(h.client.watchToken({ appId: APP, kind: JSAPI, agent: "", platformId: "", knownVersion: 0, knownFingerprint: "" })));
    cleanups.push(() => watches.forEach((_, i) => c.replicas[i]!.client.close()));
    await eventually(() => watches.forEach((w) => expect(w.messages).toHaveLength(1)));
    const t = first[0]!.token!;
    // Every replica's refresh timer fires: one fetch for the cluster, WeChat answers the same
    // ticket, and the plan it moves to the expiry is shared (no replica asks again before).
    await c.clock.advanceTo(t.refreshAt!.getTime());
    await eventually(() => expect(c.fake.successfulTicketCalls(APP, "jsapi")).toBe(2));
    // WeChat has answered; its answer reaches every replica in real time. The clock moves
    // on once it has (an answer read only at the expiry would be a value past its end).
    await eventually(() => c.replicas.forEach((h) => expect(ticketOf(h).latest()!.refreshAt).toBe(t.expiresAt!.getTime())));
    await c.clock.advanceTo(t.expiresAt!.getTime() - 1);
    expect(c.fake.successfulTicketCalls(APP, "jsapi")).toBe(2);
    // At the expiry, one fetch for the cluster again, and every replica's watchers get the new one.
    await c.clock.advanceTo(t.expiresAt!.getTime());
    // (Zero-delay timers run at each try: a refresh planned for "now" fires.)
    await eventually(async () => {
      await c.clock.advance(0);
      watches.forEach((w) => expect(w.messages.map((m) => m.token!.version)).toEqual([1, 2]));
    });
    expect(new Set(watches.map((w) => w.messages[1]!.token!.accessToken)).size).toBe(1);
    // The one ahead of expiry (same ticket) and the one at expiry, for all three replicas together.
    expect(c.fake.successfulTicketCalls(APP, "jsapi")).toBe(3);
  });

  it("keep each WeCom agent's token under its own key: never shared, never overwritten", async () => {
    const c = await cluster(2);
    const [a, b] = await Promise.all([
      c.replicas[0]!.get({ appId: CORP, agent: "1000002" }),
      c.replicas[1]!.get({ appId: CORP, agent: "1000003" }),
    ]);
    expect(a.token!.accessToken).not.toBe(b.token!.accessToken);
    // Each replica serves both, the same values: one lineage per agent for the cluster.
    expect((await c.replicas[1]!.get({ appId: CORP, agent: "1000002" })).token!.accessToken).toBe(a.token!.accessToken);
    expect((await c.replicas[0]!.get({ appId: CORP, agent: "1000003" })).token!.accessToken).toBe(b.token!.accessToken);
    expect(c.fake.successfulWeComTokenCalls(`${CORP}/1000002`)).toBe(1);
    expect(c.fake.successfulWeComTokenCalls(`${CORP}/1000003`)).toBe(1);
    const redis = new Redis(SHARED_REDIS_URL);
    try {
      const keys = (await redis.keys(`${c.prefix}token:${CORP}*`)).sort();
      expect(keys).toEqual([`${c.prefix}token:${CORP}/1000002`, `${c.prefix}token:${CORP}/1000003`]);
      const stored = JSON.parse((await redis.get(`${c.prefix}token:${CORP}/1000003`))!) as { value: string };
      expect(stored.value).toBe(b.token!.accessToken);
    } finally {
      redis.disconnect();
    }
  });
});

describe("a ticket's refresh ahead of its expiry on a replica sharing Redis", () => {
  it("still releasing its lock when the expiry comes: the refresh planned for the expiry is made once it is over", async () => {
    const c = await cluster(1);
    const [h, store] = [c.replicas[0]!, c.stores[0]!];
    const t = (await h.get({ appId: APP, kind: JSAPI })).token!;
    const watch = collect(h.client.watchToken({ appId: APP, kind: JSAPI, agent: "", platformId: "", knownVersion: 0, knownFingerprint: "" }));
    cleanups.push(() => h.client.close());
    await eventually(() => expect(watch.messages).toHaveLength(1));
    // The refresh ahead of expiry gets the same ticket and plans the next at its expiry;
    // its lock release is slow to come back.
    store.hold(ticketOf(h).key);
    await c.clock.advanceTo(t.refreshAt!.getTime());
    await eventually(() => {
      expect(c.fake.successfulTicketCalls(APP, "jsapi")).toBe(2);
      expect(ticketOf(h).nextRefreshAt()).toBe(t.expiresAt!.getTime());
    });
    // The expiry comes meanwhile: its planned refresh joins the one in flight, which ends
    // with the value that has just expired.
    await c.clock.advanceTo(t.expiresAt!.getTime());
    store.open();
    await eventually(async () => {
      await c.clock.advance(0);
      expect(watch.messages.map((m) => m.token!.version)).toEqual([1, 2]);
    });
    expect(c.fake.successfulTicketCalls(APP, "jsapi")).toBe(3);
  });
});

describe("a failed ForceRefresh on a replica sharing Redis", () => {
  it("leaves the value on its own schedule: the planned refresh still happens", async () => {
    const c = await cluster(1);
    const h = c.replicas[0]!;
    const v1 = (await h.getToken(APP)).token!;
    h.fake.inject({ appId: APP, errcode: -1, times: 1 });
    await expect(h.forceRefresh(APP, v1.accessToken)).rejects.toMatchObject({ code: 14 });
    // The retry finds the value still good and does nothing upstream...
    await c.clock.advance(2_000);
    // Its lock round trip is real time: wait until it is over (it clears the failure and
    // plans the value's own refresh again) before counting.
    await eventually(() => {
      expect(h.server.credential(APP).lastError()).toBeUndefined();
      expect(h.server.credential(APP).nextRefreshAt()).toBe(v1.refreshAt!.getTime());
    });
    const calls = c.fake.successfulTokenCalls(APP);
    // ...and the refresh planned for the value still comes.
    await c.clock.advanceTo(v1.refreshAt!.getTime());
    // (Zero-delay timers run at each try: a refresh planned again for "now" fires.)
    await eventually(async () => {
      await c.clock.advance(0);
      expect(c.fake.successfulTokenCalls(APP)).toBe(calls + 1);
    });
    await eventually(async () => expect((await h.getToken(APP)).token!.version).toBe(2));
  });
});

describe("the corp jsapi ticket", () => {
  it("needs a grant on the corp: a grant on one agent does not reach it, whichever agent is named", async () => {
    const { generateApiKey, hashApiKey } = await import("../../src/auth/api-key.js");
    const key = generateApiKey();
    const clock = new FakeClock();
    const fake = new FakeWeChat({ apps: SECRETS, clock, wecom: WECOM });
    await fake.start();
    cleanups.push(() => fake.close());
    const h = await Harness.start({
      clock,
      fake,
      env: { A1: WECOM[CORP]["1000002"], A2: WECOM[CORP]["1000003"] },
      apps: [
        { type: "wecom", corpId: CORP, agent: "1000002", secretEnv: "A1", tickets: ["jsapi"] },
        { type: "wecom", corpId: CORP, agent: "1000003", secretEnv: "A2" },
      ],
      config: { auth: { clients: [{ name: "agent-only", apiKeySha256: hashApiKey(key), read: [`${CORP}/1000003`] }] } },
      apiKey: key,
    });
    cleanups.push(() => h.stop());
    expect((await h.get({ appId: CORP, agent: "1000003" })).token!.agent).toBe("1000003");
    for (const agent of ["", "1000003", "1000002"]) {
      await expect(h.get({ appId: CORP, agent, kind: JSAPI })).rejects.toMatchObject({ code: 7 });
    }
  });
});

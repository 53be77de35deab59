/**
 * The Redis store as operators run Redis: replicas that find the master
 * through Sentinel and keep acting as one central server across failovers.
 * Real redis-server processes (master, replica, sentinel) on free ports, two
 * wxtoken replicas configured with store type redis, the fake WeChat, one
 * fake clock.
 */
import { afterEach, describe, expect, it } from "vitest";
import { FakeClock } from "../../src/clock.js";
import { APP, collect, eventually, freePort, Harness, startFakeWeChat } from "../support/harness.js";
import { uniquePrefix } from "../support/redis.js";
import { MASTER_NAME, SentinelGroup } from "../support/sentinel.js";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe("replicas on Redis Sentinel", () => {
  it("keep serving valid tokens and make one upstream refresh per cycle across a failover and a master crash", async () => {
    const group = await SentinelGroup.start();
    cleanups.push(() => group.stop());
    const clock = new FakeClock();
    const fake = await startFakeWeChat(clock, cleanups);
    const prefix = uniquePrefix();
    // The first sentinel listed is down: the others are asked.
    const sentinels = [`127.0.0.1:${await freePort()}`, ...group.addresses];
    const replicas = await Promise.all(
      [0, 1].map(async () => {
        const h = await Harness.start({ clock, fake, config: { store: { type: "redis", sentinels, masterName: MASTER_NAME, keyPrefix: prefix } } });
        cleanups.push(() => h.stop());
        return h;
      }),
    );
    const watchers = replicas.map((h) => {
      const stream = h.client.watchToken({ kind: 0, agent: "", platformId: "", appId: APP, knownVersion: 0, knownFingerprint: "" });
      cleanups.push(() => stream.cancel());
      return collect(stream).messages;
    });

    const first = (await replicas[0]!.getToken(APP)).token!;
    expect((await replicas[1]!.getToken(APP)).token!.accessToken).toBe(first.accessToken);
    expect(fake.successfulTokenCalls(APP)).toBe(1);

    /** Brings the next refresh due and waits until every replica serves `version`, valid at WeChat. */
    const nextCycle = async (version: number): Promise<void> => {
      const due = (await replicas[0]!.getToken(APP)).token!.refreshAt!.getTime();
      await clock.advance(due - clock.now());
      // A replica that found Redis still switching retries after a backoff (fake time). The
      // clock turns 100 ms a try: a refresh held up in real time (a reconnect, a lock wait of
      // seconds) must not see the token's 5-minute margin run out on the clock meanwhile.
      await eventually(async () => {
        for (const h of replicas) {
          const token = (await h.getToken(APP)).token!;
          if (token.version !== version) {
            await clock.advance(100);
            throw new Error(`replica on version ${token.version}, not ${version}`);
          }
          expect(fake.isValid(APP, token.accessToken)).toBe(true);
        }
      }, 20_000);
      expect(fake.successfulTokenCalls(APP)).toBe(version);
    };

    // An operator's failover: the replicas follow the new master at once,
    // not when Sentinel gets round to demoting the old one (about 10 s later;
    // what it took meanwhile would be lost).
    const key = `${prefix}token:${APP}`;
    const firstMaster = await group.master();
    const second = await group.failover();
    // Two connections per replica (commands and pub/sub), all on the new master.
    await eventually(async () => expect([await group.wxtokenClients(second), await group.wxtokenClients(firstMaster)]).toEqual([4, 0]), 5_000);
    for (const h of replicas) expect((await h.getToken(APP)).token!.accessToken).toBe(first.accessToken);
    await nextCycle(2);
    expect(await group.get(second, key)).toMatch(/"version":2\b/);

    // The new master crashes. What it had replicated survives (replication is
    // asynchronous: wait for it, as a quiet cluster would have had time to).
    const standby = group.servers.find((s) => s !== firstMaster && s !== second)!;
    await eventually(async () => expect(await group.get(standby, key)).toMatch(/"version":2\b/), 10_000);
    await second.kill();
    expect(await group.switchedFrom(second)).toBe(standby);
    // The replicas reach it in real time (their reconnect backoff, up to 2 s) while the
    // cycle turns the clock 1 s a try: seconds late, they would find the token expired
    // and callers waiting for an attempt on the clock the loop no longer turns.
    await eventually(async () => expect(await group.wxtokenClients(standby)).toBe(4), 20_000);
    for (const h of replicas) expect((await h.getToken(APP)).token!.version).toBe(2);
    await nextCycle(3);
    expect(await group.get(standby, key)).toMatch(/"version":3\b/);

    // Every replica's watchers saw each token once, pushed across both switches.
    await eventually(() => expect(watchers.map((m) => m.map((w) => w.token!.version))).toEqual([[1, 2, 3], [1, 2, 3]]));
  }, 60_000);
});

/**
 * ListCredentials on replicas sharing Redis: each value records the replica
 * that obtained it (stored and published with the value), so every replica
 * names the same one, and each answer names the replica that answered.
 */
import { Metadata } from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { ListCredentialsRequest, type ListCredentialsResponse } from "../../generated/wxtoken/v1/token_service.js";
import { FakeClock } from "../../src/clock.js";
import { silentLogger } from "../../src/log.js";
import { RedisStore } from "../../src/store/redis-store.js";
import { APP, eventually, Harness, startFakeWeChat } from "../support/harness.js";
import { dropPrefix, SHARED_REDIS_URL, uniquePrefix } from "../support/redis.js";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function list(h: Harness): Promise<ListCredentialsResponse> {
  return new Promise((resolve, reject) =>
    h.client.listCredentials(ListCredentialsRequest.fromPartial({ appId: APP }), new Metadata(), { deadline: Date.now() + 5000 }, (err, res) => (err ? reject(err) : resolve(res))),
  );
}

describe("ListCredentials on replicas sharing Redis", () => {
  it("names the replica that obtained each value, the same on every replica", async () => {
    const clock = new FakeClock();
    const fake = await startFakeWeChat(clock, cleanups);
    const prefix = uniquePrefix();
    cleanups.push(() => dropPrefix(SHARED_REDIS_URL, prefix));
    const start = async (id: string) => {
      const store = new RedisStore({ url: SHARED_REDIS_URL, keyPrefix: prefix, lockLeaseMs: 5000, log: silentLogger, replicas: { id } });
      const h = await Harness.start({ clock, fake, store });
      cleanups.push(() => h.stop());
      return h;
    };
    const a = await start("replica-a");
    const b = await start("replica-b");
    const first = (await a.getToken(APP)).token!;
    // b holds the same value (adopted, or fetched under the lock): whoever fetched it is named on both.
    await eventually(async () => expect((await b.getToken(APP)).token!.version).toBe(first.version));
    const [onA, onB] = [(await list(a)).credentials[0]!, (await list(b)).credentials[0]!];
    expect(["replica-a", "replica-b"]).toContain(onA.refreshedBy);
    expect(onB.refreshedBy).toBe(onA.refreshedBy);

    // b forces a refresh: it makes the call, and a, told by Redis, names b.
    const refreshed = (await b.forceRefresh(APP, first.accessToken)).token!;
    expect(refreshed.version).toBe(first.version + 1);
    await eventually(async () => expect((await list(a)).credentials[0]).toMatchObject({ version: refreshed.version, refreshedBy: "replica-b" }));
    const answer = await list(b);
    expect([answer.replica, answer.credentials[0]!.refreshedBy, (await list(a)).replica]).toEqual(["replica-b", "replica-b", "replica-a"]);
  });
});

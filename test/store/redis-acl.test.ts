/**
 * The Redis store with an ACL user of least privilege, as operators set one
 * up (the README's recipe), and what a wrong password looks like: a clear
 * error at startup and on every refresh, and the password nowhere.
 */
import { status } from "@grpc/grpc-js";
import { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { FakeClock } from "../../src/clock.js";
import { APP, grpcError, Harness, startFakeWeChat, type HarnessOptions } from "../support/harness.js";
import { OwnRedis, uniquePrefix } from "../support/redis.js";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const PASSWORD = "acl-pw-SHOULD-NEVER-LEAK-7f3a9c";
const WRONG = "wrong-pw-SHOULD-NEVER-LEAK-51be0d";
const ADMIN = { username: "admin", password: "admin-pw-for-the-test" };

/** A Redis whose default user is off: only named users get in. */
async function aclRedis(prefix: string): Promise<OwnRedis> {
  const redis = await OwnRedis.start(["--user", ADMIN.username, "on", `>${ADMIN.password}`, "~*", "&*", "+@all"]);
  cleanups.push(() => redis.kill());
  const admin = new Redis({ port: redis.port, host: "127.0.0.1", ...ADMIN });
  cleanups.push(() => admin.disconnect());
  // The README's recipe: its own keys and channel, the commands it uses.
  await admin.call("ACL", "SETUSER", "wxtoken", "on", `>${PASSWORD}`, `~${prefix}*`, `&${prefix}*`, "-@all", "+@read", "+@write", "+@scripting", "+@pubsub", "+@connection", "+info");
  await admin.call("ACL", "SETUSER", "default", "off");
  return redis;
}

async function replicas(n: number, opts: HarnessOptions): Promise<Harness[]> {
  const out: Harness[] = [];
  for (let i = 0; i < n; i++) {
    const h = await Harness.start(opts);
    cleanups.push(() => h.stop());
    out.push(h);
  }
  return out;
}

describe("the Redis store with an ACL user", () => {
  it("shares one token between replicas with a user limited to its own keys and channel", async () => {
    const prefix = uniquePrefix();
    const redis = await aclRedis(prefix);
    const clock = new FakeClock();
    const fake = await startFakeWeChat(clock, cleanups);
    const store = { type: "redis" as const, url: redis.url, username: "wxtoken", passwordEnv: "WXTOKEN_REDIS_PASSWORD", keyPrefix: prefix };
    const [a, b] = await replicas(2, { clock, fake, config: { store }, env: { WXTOKEN_REDIS_PASSWORD: PASSWORD } });
    const first = (await a!.getToken(APP)).token!;
    // The other replica learns of a forced refresh over the user's channel.
    const forced = (await b!.forceRefresh(APP, first.accessToken)).token!;
    expect(forced.version).toBe(2);
    expect((await a!.getToken(APP)).token!.accessToken).toBe(forced.accessToken);
    expect(fake.successfulTokenCalls(APP)).toBe(2);
    for (const h of [a!, b!]) {
      expect(h.logs.text()).not.toMatch(/refused the credentials|unreachable|NOPERM/);
      expect(h.logs.text()).not.toContain(PASSWORD);
    }
  });

  it("with a wrong password: says so at startup and in the refresh error, and never shows the password", async () => {
    const prefix = uniquePrefix();
    const redis = await aclRedis(prefix);
    const store = { type: "redis" as const, url: redis.url, username: "wxtoken", passwordEnv: "WXTOKEN_REDIS_PASSWORD", keyPrefix: prefix };
    const [h] = await replicas(1, { config: { store }, env: { WXTOKEN_REDIS_PASSWORD: WRONG } });
    expect(h!.logs.text()).toMatch(/redis refused the credentials.*WRONGPASS|WRONGPASS.*redis refused the credentials/);
    // A deadline before the next attempt: answered at once.
    const err = await grpcError(h!.getToken(APP, 600));
    expect(err.code).toBe(status.UNAVAILABLE);
    expect(err.details).toMatch(/shared store redis:\/\/127\.0\.0\.1:\d+\/? unreachable: WRONGPASS/);
    expect(h!.fake.calls("/cgi-bin/token", APP)).toBe(0);
    for (const text of [err.details, h!.logs.text()]) {
      expect(text).not.toContain(WRONG);
      expect(text).not.toContain(PASSWORD);
    }
  });
});

import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { FakeClock } from "../../src/clock.js";
import { FileStore } from "../../src/store/file-store.js";
import { APP, APP2, eventually, Harness, SECRETS, startFakeWeChat, tempDir } from "../support/harness.js";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const fakeWeChat = (clock: FakeClock) => startFakeWeChat(clock, cleanups);

describe("file store: a restart does not cost a token", () => {
  it("serves a still-valid token after a restart with zero upstream calls", async () => {
    const clock = new FakeClock();
    const fake = await fakeWeChat(clock);
    const storePath = join(tempDir(), "state", "tokens.json");
    const first = await Harness.start({ clock, fake, storePath });
    const before = (await first.getToken(APP)).token!;
    await first.getToken(APP2);
    await first.stop();
    expect(fake.successfulTokenCalls()).toBe(2);

    // The snapshot is private to the server's user.
    expect(statSync(storePath).mode & 0o777).toBe(0o600);
    expect(readFileSync(storePath, "utf8")).not.toContain(SECRETS[APP]);

    await clock.advance(60 * 60_000); // an hour later
    const second = await Harness.start({ clock, fake, storePath });
    cleanups.push(() => second.stop());
    const after = (await second.getToken(APP)).token!;
    expect(after.accessToken).toBe(before.accessToken);
    expect(after.version).toBe(before.version);
    expect(fake.successfulTokenCalls()).toBe(2);
    expect(fake.calls("/cgi-bin/token")).toBe(2);
  });

  it("fetches a new token (with a higher version) when the stored one has expired", async () => {
    const clock = new FakeClock();
    const fake = await fakeWeChat(clock);
    const storePath = join(tempDir(), "tokens.json");
    const first = await Harness.start({ clock, fake, storePath });
    const before = (await first.getToken(APP)).token!;
    await first.stop();
    clock.set(before.expiresAt!.getTime() + 1);
    const second = await Harness.start({ clock, fake, storePath });
    cleanups.push(() => second.stop());
    const after = (await second.getToken(APP)).token!;
    expect(after.accessToken).not.toBe(before.accessToken);
    expect(after.version).toBe(before.version + 1);
  });

  it("starts without the snapshot when the file is corrupt, keeps the corrupt file aside, and writes a new one", async () => {
    const clock = new FakeClock();
    const fake = await fakeWeChat(clock);
    const storePath = join(tempDir(), "tokens.json");
    writeFileSync(storePath, "{not json", { mode: 0o644 });
    const h = await Harness.start({ clock, fake, storePath });
    cleanups.push(() => h.stop());
    const t = (await h.getToken(APP)).token!;
    expect(h.logs.text()).toMatch(/snapshot unreadable; moved aside/);
    // What it held (refresh tokens, perhaps) is not overwritten: an operator can still read it.
    const aside = readdirSync(dirname(storePath)).filter((f) => f.startsWith("tokens.json.unreadable-"));
    expect(aside).toHaveLength(1);
    expect(readFileSync(join(dirname(storePath), aside[0]!), "utf8")).toBe("{not json");
    await eventually(() => expect(readFileSync(storePath, "utf8")).toContain(t.accessToken));
    expect(statSync(storePath).mode & 0o777).toBe(0o600);
  });

  it("keeps the day's upstream call count across a restart, so a crash loop cannot reset the budget", async () => {
    const clock = new FakeClock();
    const fake = await fakeWeChat(clock);
    const storePath = join(tempDir(), "tokens.json");
    const quota = { dailyBudget: 2 };
    const first = await Harness.start({ clock, fake, storePath, config: { quota } });
    const t = (await first.getToken(APP)).token!;
    await first.forceRefresh(APP, t.accessToken);
    await first.stop();
    expect(fake.calls("/cgi-bin/token", APP)).toBe(2);
    clock.set(clock.now() + 7200_000 + 1); // the stored token has expired; same quota day
    const second = await Harness.start({ clock, fake, storePath, config: { quota } });
    cleanups.push(() => second.stop());
    const err = await second.getToken(APP).catch((e: { code: number; details: string }) => e);
    expect(err).toMatchObject({ code: 8 }); // RESOURCE_EXHAUSTED
    expect(fake.calls("/cgi-bin/token", APP)).toBe(2);
  });

  it("coalesces many saves into an atomic snapshot that flush() makes durable", async () => {
    const path = join(tempDir(), "tokens.json");
    const store = new FileStore(path);
    for (let v = 1; v <= 100; v++) store.save({ key: APP, value: `t${v}`, version: v, obtainedAt: 0, expiresAt: 7200_000 });
    await store.flush();
    const loaded = await new FileStore(path).load();
    expect(loaded.get(APP)?.version).toBe(100);
    expect(loaded.get(APP)?.value).toBe("t100");
  });
});

/**
 * The status page in a real browser: headless Chromium (Debian's `chromium`)
 * driven by playwright-core loads /status from the metrics listener of a
 * running server with 27 credentials, one of them refused by WeChat, and
 * the test checks what it shows: the counts, the failing credential first,
 * rows in pages, a search that narrows them, a refresh that appears without
 * a reload, and no token anywhere in the page. It saves a screenshot to
 * test-results/status-page.png (git-ignored). Without Chromium the test is
 * skipped locally, and fails in CI.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { FakeClock } from "../../src/clock.js";
import { FakeWeChat } from "../../src/fake-wechat/index.js";
import { APP, APP2, eventually, Harness, SECRETS } from "../support/harness.js";

const CHROMIUM = process.env.WXTOKEN_CHROMIUM ?? "/usr/bin/chromium";
const inCI = Boolean(process.env.CI) && !/^(0|false)$/i.test(process.env.CI ?? "");
const missing = existsSync(CHROMIUM) ? undefined : `no Chromium at ${CHROMIUM} (apt-get install -y chromium)`;
if (missing && !inCI) console.warn(`skipping the status page test: ${missing}`);

/** Chromium on a closed network: no background connections, which the network refuses anyway. */
const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

/** 24 more apps besides APP and APP2, so the table has two pages of 20. */
const MORE = Object.fromEntries(Array.from({ length: 24 }, (_, i) => [`wx30000000000000${String(i).padStart(2, "0")}`, `s3cr3t-more-SHOULD-NEVER-LEAK-${String(i).padStart(4, "0")}`]));
const ALL_SECRETS = { ...SECRETS, ...MORE };

let h: Harness | undefined;
let fake: FakeWeChat | undefined;
const profiles: string[] = [];
afterEach(async () => {
  await h?.stop();
  await fake?.close();
  h = undefined;
  fake = undefined;
});
afterAll(() => {
  for (const dir of profiles) rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(missing !== undefined && !inCI)("the status page in headless Chromium", () => {
  it("shows counts, the failing credential first, pages, search and a live refresh; never a token", { timeout: 60_000 }, async () => {
    if (missing) throw new Error(`CI must run the status page test: ${missing}`);
    const clock = new FakeClock(Date.parse("2026-03-02T09:00:00Z"));
    fake = new FakeWeChat({ apps: ALL_SECRETS, clock, expiresIn: 7200, overlapMs: 300_000 });
    await fake.start();
    h = await Harness.start({
      clock,
      fake,
      apps: [
        { appId: APP, secretEnv: `SECRET_${APP}`, tickets: ["jsapi"] },
        { appId: APP2, secretEnv: `SECRET_${APP2}` },
        ...Object.keys(MORE).map((appId) => ({ appId, secretEnv: `SECRET_${appId}` })),
      ],
      env: Object.fromEntries(Object.entries(MORE).map(([id, s]) => [`SECRET_${id}`, s])),
      faults: [{ appId: APP2, errcode: 40164, times: Infinity }],
      config: { metrics: { listen: "127.0.0.1:0" } },
    });
    const harness = h;
    // APP2 fails from its first attempt: by the time every other credential holds a value, it is down.
    await eventually(() => expect(harness.server.engine.index.counts()).toMatchObject({ total: 27, ok: 26, down: 1 }));

    const { chromium } = await import("playwright-core");
    const profile = mkdtempSync(join(tmpdir(), "wxtoken-chromium-"));
    profiles.push(profile);
    const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport: { width: 1400, height: 1000 } });
    try {
      const page = context.pages()[0] ?? (await context.newPage());
      const errors: string[] = [];
      page.on("pageerror", (err) => errors.push(err.message));
      page.on("console", (msg) => {
        if (msg.type() === "error") errors.push(msg.text());
      });
      await page.goto(`http://127.0.0.1:${harness.server.metricsPort}/status`);
      await page.locator("#count-total", { hasText: "27" }).waitFor();
      expect(await page.locator("#count-ok").textContent()).toBe("26");
      expect(await page.locator("#count-down").textContent()).toBe("1");

      // The refused credential first, with the reason and WeChat's errcode, and its failure time.
      const attention = page.locator("#attention-rows tr");
      await expect.poll(() => attention.count()).toBe(1);
      expect(await attention.first().getAttribute("data-key")).toBe(`${APP2}#access_token`);
      expect(await attention.first().locator("td.error").textContent()).toBe("WECHAT_ERROR 40164");
      expect(await attention.first().locator("td.error").getAttribute("title")).toContain("40164");

      // Pages of 20: 27 credentials make two, every one once, in order.
      await page.selectOption("#size", "20");
      const rows = page.locator("#rows tr");
      const keysOf = async (list: typeof rows) => Promise.all((await list.all()).map((row) => row.getAttribute("data-key")));
      await expect.poll(() => page.locator("#page-info").textContent()).toBe("page 1 · 20 shown of 27");
      const first = await keysOf(rows);
      await page.click("#next");
      await expect.poll(() => page.locator("#page-info").textContent()).toBe("page 2 · 7 shown of 27");
      const second = await keysOf(rows);
      const expected = [`${APP}#access_token`, `${APP}#jsapi_ticket`, `${APP2}#access_token`, ...Object.keys(MORE).map((id) => `${id}#access_token`)];
      expect([...first, ...second]).toEqual(expected);
      await page.click("#prev");
      await expect.poll(() => page.locator("#page-info").textContent()).toBe("page 1 · 20 shown of 27");

      // A search narrows the table to what matches.
      await page.fill("#search", "2222");
      await expect.poll(() => keysOf(rows)).toEqual([`${APP2}#access_token`]);
      await page.fill("#search", "jsapi");
      await expect.poll(() => keysOf(rows)).toEqual([`${APP}#jsapi_ticket`]);
      await page.fill("#search", APP);
      await expect.poll(() => rows.count()).toBe(2);

      // Live: a refresh shows up without a reload.
      const row = page.locator(`#rows tr[data-key="${APP}#access_token"]`);
      await expect.poll(() => row.locator("td.version").textContent()).toBe("v1");
      const before = (await harness.getToken(APP)).token!;
      const after = (await harness.forceRefresh(APP, before.accessToken)).token!;
      await expect.poll(() => row.locator("td.version").textContent(), { timeout: 10_000 }).toBe("v2");
      expect(await row.locator("td.fingerprint").textContent()).toBe(after.fingerprint);

      // Never a token or ticket, not even in the markup.
      const html = await page.content();
      const values = [before.accessToken, after.accessToken, fake.currentTicket(APP, "jsapi")!, ...Object.values(ALL_SECRETS)];
      for (const id of Object.keys(MORE)) values.push((await harness.getToken(id)).token!.accessToken);
      expect(values.filter((v) => html.includes(v))).toEqual([]);
      expect(errors).toEqual([]);

      await page.fill("#search", "");
      await expect.poll(() => rows.count()).toBe(20);
      const shot = resolve("test-results/status-page.png");
      mkdirSync(resolve("test-results"), { recursive: true });
      await page.screenshot({ path: shot, fullPage: true });
      console.info(`status page screenshot: ${shot}`);
    } finally {
      await context.close();
    }
  });
});

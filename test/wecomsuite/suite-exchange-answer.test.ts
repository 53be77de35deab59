/**
 * What get_permanent_code answers besides the permanent code is extra: v1
 * adds the corp's first token (access_token, expires_in) and the agents. The
 * permanent code is handed out once (the code then answers 40078), so an
 * extra that does not read right (a token without a usable expires_in) must
 * not cost the install: the permanent code is stored, and the corp's token
 * is fetched as any other (get_corp_token). The fake WeCom is reached through
 * a proxy over real HTTP that drops expires_in from that answer.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { FakeClock } from "../../src/clock.js";
import { FakeWeChat } from "../../src/fake-wechat/index.js";
import type { PlatformStore } from "../../src/platform/store.js";
import { SuitePlatform } from "../../src/wecomsuite/suite.js";
import { eventually } from "../support/harness.js";
import { CORP1, CORP2, SUITE, suiteFakeOptions, SuiteHarness } from "../support/suite-platform.js";
import { pushFirstTicket } from "../support/suite-ticket.js";

const PERMANENT_CODE = "/cgi-bin/service/get_permanent_code";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** An HTTP proxy to `target` that hands every answer of `path` through `rewrite` (a JSON body). */
async function rewritingProxy(target: string, path: string, rewrite: (body: Record<string, unknown>) => Record<string, unknown>): Promise<string> {
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      void (async () => {
        const up = await request(`${target}${req.url ?? "/"}`, {
          method: req.method as "GET" | "POST",
          body: req.method === "POST" ? Buffer.concat(chunks) : undefined,
          headers: { "content-type": String(req.headers["content-type"] ?? "application/json") },
        });
        let text = await up.body.text();
        if (new URL(req.url ?? "/", "http://x").pathname === path) text = JSON.stringify(rewrite(JSON.parse(text) as Record<string, unknown>));
        res.writeHead(up.statusCode, { "content-type": "application/json" });
        res.end(text);
      })().catch(() => res.destroy());
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  cleanups.push(() => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe("a WeCom suite's exchange answered with a first corp token that does not read", () => {
  it("stores the permanent code anyway and fetches the corp's token with it (push and redirect alike)", async () => {
    const clock = new FakeClock();
    const fake = new FakeWeChat(suiteFakeOptions(clock));
    await fake.start();
    cleanups.push(() => fake.close());
    const proxy = await rewritingProxy(fake.wecomUrl!, PERMANENT_CODE, (body) => {
      const { expires_in: _dropped, ...rest } = body;
      return rest;
    });
    const s = await SuiteHarness.start({ clock, wechat: fake, config: { upstream: { wecomBaseUrl: proxy } } });
    cleanups.push(() => s.stop());
    const suite = s.h.server.platforms.get(SUITE) as SuitePlatform;
    const store = s.h.server.store as unknown as PlatformStore;
    await pushFirstTicket(s);

    // By push: kept, exchanged once, stored; nothing left to retry.
    expect((await s.suite().install(CORP1)).body).toBe("success");
    await eventually(async () => expect((await store.authorizer(SUITE, CORP1))?.refreshToken).toBe(fake.suite(SUITE).permanentCodeOf(CORP1)));
    await eventually(async () => expect(await store.pendingCodes(SUITE)).toEqual([]));
    expect(fake.calls(PERMANENT_CODE)).toBe(1);

    // By redirect: the caller learns the corp it installed.
    const { authCode } = fake.suite(SUITE).installByRedirect(CORP2);
    expect((await suite.authorizeByCode(authCode)).tenantId).toBe(CORP2);
    expect((await store.authorizer(SUITE, CORP2))?.refreshToken).toBe(fake.suite(SUITE).permanentCodeOf(CORP2));

    for (const corp of [CORP1, CORP2]) {
      const token = (await s.h.get({ appId: corp, platformId: SUITE })).token!.accessToken;
      expect(fake.isWeComTokenValid(corp, String(fake.suite(SUITE).corp(corp)!.agentId), token)).toBe(true);
    }
    expect(s.h.logs.text()).not.toContain("must install the app again");
  });
});

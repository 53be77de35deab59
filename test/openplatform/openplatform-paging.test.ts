/**
 * ListAuthorizers in pages (AIP-158) on a platform of 2,500 authorizers,
 * over real gRPC, the HTTP route and the CLI: the default and largest page
 * sizes, every account exactly once and in appid order, the status filter,
 * accounts that come and go between pages, and page tokens that are refused.
 * The server starts from a store that already holds the accounts (with
 * refresh tokens the fake WeChat knows), as a platform restarts.
 */
import { status, type ServiceError } from "@grpc/grpc-js";
import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { AuthorizerStatus, type ListAuthorizersRequest, type ListAuthorizersResponse } from "../../generated/wxtoken/v1/token_service.js";
import { encodePageToken } from "../../src/api/paging.js";
import { FakeClock } from "../../src/clock.js";
import { FakeWeChat } from "../../src/fake-wechat/index.js";
import { MemoryStore } from "../../src/store/memory-store.js";
import { statusDetailsOf } from "../../packages/client/src/status-details.js";
import { useCli } from "../support/cli.js";
import { eventually, grpcError } from "../support/harness.js";
import { COMPONENT, componentOptions, PlatformHarness } from "../support/platform.js";

const N = 2500;
/** In appid order already (zero-padded). Every 10th needs re-authorization (WeChat no longer knows it). */
const ALL = Array.from({ length: N }, (_, i) => `wxpage${String(i).padStart(12, "0")}`);
const REAUTH = ALL.filter((_, i) => i % 10 === 0);
const ACTIVE = ALL.filter((_, i) => i % 10 !== 0);
const { NEEDS_REAUTH, ACTIVE_STATUS } = { NEEDS_REAUTH: AuthorizerStatus.AUTHORIZER_STATUS_NEEDS_REAUTHORIZATION, ACTIVE_STATUS: AuthorizerStatus.AUTHORIZER_STATUS_ACTIVE };

const fixture = useCli();
let running: { p: PlatformHarness; fake: FakeWeChat } | undefined;
afterEach(async () => {
  await running?.p.stop();
  await running?.fake.close();
  running = undefined;
});

async function platformOf2500(): Promise<PlatformHarness> {
  const clock = new FakeClock(Date.parse("2026-03-01T00:00:00Z"));
  const fake = new FakeWeChat({ apps: {}, clock, component: componentOptions(ACTIVE) });
  await fake.start();
  const store = new MemoryStore();
  const at = clock.now() - 3600_000;
  for (const appId of ALL) {
    const active = fake.component.refreshTokenOf(appId);
    const record = { appId, refreshToken: active ?? `refreshtoken@@@revoked-${appId}`, authorizedAt: at, updatedAt: at };
    await store.saveAuthorizer(COMPONENT, { ...record, status: active ? "active" : "needs_reauthorization" });
  }
  const p = await PlatformHarness.start({ clock, fake, store, config: { http: { listen: "127.0.0.1:0" } } });
  running = { p, fake };
  return p;
}

/** Every page in turn from the first (or from `token`), with the answers. */
async function allPages(p: PlatformHarness, req: Partial<ListAuthorizersRequest>, token = ""): Promise<ListAuthorizersResponse[]> {
  const pages: ListAuthorizersResponse[] = [];
  do {
    const page = await p.list({ ...req, pageToken: token });
    pages.push(page);
    token = page.nextPageToken;
  } while (token !== "");
  return pages;
}

const ids = (pages: ListAuthorizersResponse[]) => pages.flatMap((page) => page.authorizers.map((a) => a.appId));

function reasonOf(err: ServiceError): string | undefined {
  return statusDetailsOf(err.metadata)?.errorInfo?.reason;
}

describe("ListAuthorizers in pages", () => {
  it("100 by default, at most 1,000, negative refused; every account exactly once, in appid order", async () => {
    const p = await platformOf2500();
    const first = await p.list();
    expect(first.authorizers.map((a) => a.appId)).toEqual(ALL.slice(0, 100));
    expect([first.totalSize, first.nextPageToken !== ""]).toEqual([N, true]);
    expect((await p.list({ pageSize: 5000 })).authorizers).toHaveLength(1000);

    const big = await allPages(p, { pageSize: 1000 });
    expect(big.map((page) => [page.authorizers.length, page.totalSize])).toEqual([
      [1000, N],
      [1000, N],
      [500, N],
    ]);
    expect(ids(big)).toEqual(ALL);
    expect(big.at(-1)!.nextPageToken).toBe("");

    const small = await allPages(p, {});
    expect(small).toHaveLength(25);
    expect(ids(small)).toEqual(ALL);
    // The page size may change between pages; the token says where to go on.
    expect((await p.list({ pageSize: 3, pageToken: first.nextPageToken })).authorizers.map((a) => a.appId)).toEqual(ALL.slice(100, 103));

    const negative = await grpcError(p.list({ pageSize: -1 }));
    expect([negative.code, reasonOf(negative)]).toEqual([status.INVALID_ARGUMENT, "INVALID_PAGE_SIZE"]);
    expect(negative.details).toMatch(/page_size must not be negative/);
  });

  it("a status filter lists those accounts only, total_size counts them, and a token keeps its filter", async () => {
    const p = await platformOf2500();
    const reauth = await allPages(p, { statusFilter: NEEDS_REAUTH, pageSize: 100 });
    expect(ids(reauth)).toEqual(REAUTH);
    expect(reauth.every((page) => page.totalSize === REAUTH.length && page.authorizers.every((a) => a.status === NEEDS_REAUTH))).toBe(true);
    const active = await allPages(p, { statusFilter: ACTIVE_STATUS, pageSize: 1000 });
    expect(ids(active)).toEqual(ACTIVE);
    expect(active[0]!.totalSize).toBe(ACTIVE.length);

    const otherFilter = await grpcError(p.list({ pageToken: reauth[0]!.nextPageToken }));
    expect([otherFilter.code, reasonOf(otherFilter)]).toEqual([status.INVALID_ARGUMENT, "INVALID_PAGE_TOKEN"]);
    expect(otherFilter.details).toMatch(/made for another status_filter/);
    const unknown = await grpcError(p.list({ statusFilter: 7 as AuthorizerStatus }));
    expect([unknown.code, reasonOf(unknown)]).toEqual([status.INVALID_ARGUMENT, "INVALID_STATUS_FILTER"]);
  });

  it("accounts added or removed between pages: the others neither repeat nor go missing", { timeout: 60_000 }, async () => {
    const p = await platformOf2500();
    // Authorizations need the component token, hence a ticket.
    await p.fake.component.pushTicket();
    await eventually(async () => {
      await p.clock.advance(0);
      await p.h.getToken(COMPONENT, 300);
    }, 15_000);
    const first = await p.list({ pageSize: 1000 });
    const cursor = first.authorizers.at(-1)!.appId;
    const [seenGone, unseenGone] = [ACTIVE[10]!, ACTIVE[1500]!];
    const [newBefore, newAfter] = [`${ALL[5]}a`, `${ALL[2000]}a`];
    expect([seenGone < cursor, unseenGone > cursor, newBefore < cursor, newAfter > cursor]).toEqual([true, true, true, true]);
    for (const appId of [seenGone, unseenGone]) expect((await p.fake.component.deauthorize(appId)).status).toBe(200);
    for (const appId of [newBefore, newAfter]) expect((await p.fake.component.authorize(appId)).status).toBe(200);
    await eventually(async () => {
      const now = ids(await allPages(p, { pageSize: 1000 }));
      expect(now).toContain(newBefore);
      expect(now).toContain(newAfter);
      expect(now).not.toContain(unseenGone);
    }, 30_000);

    const rest = ids(await allPages(p, { pageSize: 1000 }, first.nextPageToken));
    const collected = [...first.authorizers.map((a) => a.appId), ...rest];
    expect(new Set(collected).size).toBe(collected.length);
    const expectedRest = [...ALL.filter((a) => a > cursor && a !== unseenGone), newAfter].sort();
    expect(rest).toEqual(expectedRest);
    expect(collected).toEqual([...ALL.slice(0, 1000), ...expectedRest]);
  });

  it("a page token that does not decode, or was made for another platform, is INVALID_ARGUMENT", async () => {
    const p = await platformOf2500();
    const json = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
    const bad = {
      "not base64url": "not a token!",
      "not JSON": Buffer.from("hello").toString("base64url"),
      "JSON of another shape": json({ after: ALL[3] }),
      "an empty last appid": json({ c: COMPONENT, s: "", a: "" }),
      "too long": "A".repeat(600),
    };
    for (const [what, token] of Object.entries(bad)) {
      const err = await grpcError(p.list({ pageToken: token }));
      expect([what, err.code, reasonOf(err)]).toEqual([what, status.INVALID_ARGUMENT, "INVALID_PAGE_TOKEN"]);
      expect(err.details).toMatch(/^page_token is not a page token of this server: pass the next_page_token of the previous page unchanged/);
    }
    const elsewhere = await grpcError(p.list({ pageToken: encodePageToken("wxotherplatform001", undefined, ALL[3]!) }));
    expect([elsewhere.code, reasonOf(elsewhere)]).toEqual([status.INVALID_ARGUMENT, "INVALID_PAGE_TOKEN"]);
    expect(elsewhere.details).toMatch(/made for another platform/);
    // A token this server made works, for the platform and filter it was made for.
    expect((await p.list({ pageToken: encodePageToken(COMPONENT, undefined, ALL[3]!) })).authorizers[0]!.appId).toBe(ALL[4]);
  });

  it("HTTP: pageSize, pageToken and statusFilter as query parameters; nextPageToken and totalSize in the answer", async () => {
    const p = await platformOf2500();
    const base = `http://127.0.0.1:${p.h.server.httpPort}/v1/platforms/${COMPONENT}/authorizers`;
    const get = async (query: string) => {
      const res = await request(`${base}?${query}`);
      return { status: res.statusCode, body: (await res.body.json()) as Record<string, any> };
    };
    const seen: string[] = [];
    let token: string | undefined;
    const sizes: number[] = [];
    do {
      const page = await get(`pageSize=1000${token ? `&pageToken=${encodeURIComponent(token)}` : ""}`);
      expect(page.status).toBe(200);
      expect(page.body.totalSize).toBe(N);
      sizes.push(page.body.authorizers.length);
      seen.push(...page.body.authorizers.map((a: { appId: string }) => a.appId));
      token = page.body.nextPageToken;
    } while (token !== undefined);
    expect(sizes).toEqual([1000, 1000, 500]);
    expect(seen).toEqual(ALL);
    // Proto field names too; the largest page; the default one.
    expect((await get("page_size=5000")).body.authorizers).toHaveLength(1000);
    expect((await get("")).body.authorizers).toHaveLength(100);
    const reauth = await get("statusFilter=AUTHORIZER_STATUS_NEEDS_REAUTHORIZATION&pageSize=1000");
    expect([reauth.body.totalSize, reauth.body.authorizers.length, reauth.body.nextPageToken]).toEqual([REAUTH.length, REAUTH.length, undefined]);

    const refused = {
      "pageSize=-1": "INVALID_PAGE_SIZE",
      "pageToken=garbage": "INVALID_PAGE_TOKEN",
      "statusFilter=AUTHORIZER_STATUS_GONE": "INVALID_STATUS_FILTER",
      "pageSize=ten": "INVALID_ARGUMENT",
      "pageSize=9999999999": "INVALID_ARGUMENT",
    };
    for (const [query, reason] of Object.entries(refused)) {
      const res = await get(query);
      expect([query, res.status, res.body.details[0].reason]).toEqual([query, 400, reason]);
    }
  });

  it("the CLI pages through every authorizer, or prints one page, or those with one status", { timeout: 60_000 }, async () => {
    const p = await platformOf2500();
    const addr = ["--addr", `127.0.0.1:${p.h.port}`];
    const run = async (...args: string[]) => {
      const r = await fixture.cli.run(["platform", COMPONENT, ...addr, ...args], { timeoutMs: 15_000 });
      expect(r.code, r.stderr).toBe(0);
      // The HTTP API's shape: every page in one when no page is named.
      return JSON.parse(r.stdout) as { totalSize: number; authorizers: { appId: string; status: string }[]; nextPageToken?: string };
    };
    const all = await run();
    expect(all.authorizers.map((a) => a.appId)).toEqual(ALL);
    expect([all.totalSize, all.nextPageToken]).toEqual([N, undefined]);

    const one = await run("--page-size", "10");
    expect(one.authorizers.map((a) => a.appId)).toEqual(ALL.slice(0, 10));
    const two = await run("--page-size", "10", "--page-token", one.nextPageToken!);
    expect(two.authorizers.map((a) => a.appId)).toEqual(ALL.slice(10, 20));

    const reauth = await run("--status", "needs_reauthorization");
    expect(reauth.authorizers.map((a) => [a.appId, a.status])).toEqual(REAUTH.map((a) => [a, "AUTHORIZER_STATUS_NEEDS_REAUTHORIZATION"]));
    expect(reauth.totalSize).toBe(REAUTH.length);
    const wrong = await fixture.cli.run(["platform", COMPONENT, ...addr, "--status", "gone"], { timeoutMs: 15_000 });
    expect([wrong.code, wrong.stderr]).toEqual([2, expect.stringMatching(/--status must be active or needs_reauthorization/)]);
  });
});

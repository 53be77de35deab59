/**
 * The client library naming a corp's credential through a WeCom suite
 * (platformId), over gRPC and HTTP: TokenClient, HttpTokenClient, TokenSource
 * and withToken, and authorizeByCode for an install by redirect. Against the
 * real server and the fake WeChat's suite over real HTTP; a token counts only
 * if the fake takes it as the corp's token for the suite's app.
 */
import { afterEach, describe, expect, it } from "vitest";
import { HttpTokenClient, TokenClient, TokenSource, withToken, type TokenSourceOptions } from "../../packages/client/src/index.js";
import { eventually } from "../support/harness.js";
import { CORP1, CORP2, SUITE, SuiteHarness } from "../support/suite-platform.js";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** SUITE with its ticket pushed and CORP1 installed by push. */
async function start(): Promise<{ s: SuiteHarness; grpc: TokenClient; http: HttpTokenClient; url: string }> {
  const s = await SuiteHarness.start({ config: { http: { listen: "127.0.0.1:0" } } });
  cleanups.push(() => s.stop());
  await s.suite().pushTicket();
  await s.suite().install(CORP1);
  await eventually(async () => expect((await s.h.get({ appId: CORP1, platformId: SUITE }, 300)).token).toBeDefined());
  const url = `http://127.0.0.1:${s.h.server.httpPort}`;
  const grpc = new TokenClient(`127.0.0.1:${s.h.port}`);
  const http = new HttpTokenClient(url);
  cleanups.push(() => grpc.close(), () => http.close());
  return { s, grpc, http, url };
}

/** Whether the fake takes `token` as the corp's token for SUITE's app in it. */
function isCorpToken(s: SuiteHarness, corpId: string, token: string): boolean {
  return s.fake.isWeComTokenValid(corpId, String(s.suite().corp(corpId)!.agentId), token);
}

describe("platformId in the client library", () => {
  it.each(["grpc", "http"] as const)("%s: getToken, forceRefresh and watch name the corp through the suite", async (transport) => {
    const { s, grpc, http } = await start();
    const client = transport === "grpc" ? grpc : http;
    const token = await client.getToken(CORP1, { platformId: SUITE });
    expect(token).toMatchObject({ appId: CORP1, platformId: SUITE });
    expect(isCorpToken(s, CORP1, token.accessToken)).toBe(true);
    // Without it the corp is not configured on this server (no self-built corp here).
    await expect(client.getToken(CORP1)).rejects.toMatchObject({ codeName: "NOT_FOUND", reason: "UNKNOWN_APP" });
    await expect(client.getToken(CORP1, { platformId: "wwnosuchsuite0001" })).rejects.toMatchObject({ codeName: "NOT_FOUND", reason: "UNKNOWN_PLATFORM" });

    // A stale token already replaced: the current one comes back, no upstream call (the corp's, not another credential's).
    const refreshed = await client.forceRefresh(CORP1, "replaced-long-ago", { platformId: SUITE });
    expect(refreshed).toMatchObject({ refreshed: false, token: { appId: CORP1, platformId: SUITE, accessToken: token.accessToken } });
    // Its jsapi ticket, named by kind as well.
    const ticket = await client.forceRefresh(CORP1, "replaced-long-ago", { platformId: SUITE, kind: "jsapi" });
    expect(ticket.token).toMatchObject({ appId: CORP1, platformId: SUITE, kind: 2 });
    expect(ticket.token.accessToken).toBe((await client.getToken(CORP1, { platformId: SUITE, kind: "jsapi" })).accessToken);

    const stop = new AbortController();
    const watch = client.watch(CORP1, { platformId: SUITE, signal: stop.signal });
    const first = await watch.next();
    expect(first.value).toMatchObject({ appId: CORP1, platformId: SUITE, version: refreshed.token.version });
    stop.abort();
    await watch.return();
  });

  it("signJsSdk through the suite carries platformId back", async () => {
    const { grpc } = await start();
    const signed = await grpc.signJsSdk(CORP1, "https://h5.example.com/page", { platformId: SUITE });
    expect(signed).toMatchObject({ appId: CORP1, platformId: SUITE, agent: "" });
  });

  it.each(["address", "url"] as const)("TokenSource (%s) holds the corp's token through the suite, and its forceRefresh names it", async (how) => {
    const { s, url } = await start();
    const options: TokenSourceOptions = { appId: CORP1, platformId: SUITE, clock: s.clock, random: () => 0.5 };
    const source = await TokenSource.create(how === "url" ? { ...options, url } : { ...options, address: `127.0.0.1:${s.h.port}` });
    cleanups.push(() => source.close());
    expect(source.which).toMatchObject({ platformId: SUITE });
    const first = source.current();
    expect(first).toMatchObject({ appId: CORP1, platformId: SUITE });
    expect(isCorpToken(s, CORP1, first.accessToken)).toBe(true);
    const forced = await source.forceRefresh("replaced-long-ago");
    expect(forced).toMatchObject({ refreshed: false, token: { appId: CORP1, platformId: SUITE, accessToken: first.accessToken } });
  });

  it("withToken with platformId runs fn with the corp's token through the suite", async () => {
    const { s, grpc } = await start();
    const seen = await withToken(grpc, CORP1, async (token) => token, { platformId: SUITE });
    expect(isCorpToken(s, CORP1, seen)).toBe(true);
  });

  it.each(["grpc", "http"] as const)("%s: authorizeByCode installs a corp by its redirect code", async (transport) => {
    const { s, grpc, http } = await start();
    const client = transport === "grpc" ? grpc : http;
    const { authCode } = s.suite().installByRedirect(CORP2);
    const answer = await client.authorizeByCode(SUITE, authCode);
    expect(answer).toMatchObject({ platformId: SUITE, appId: CORP2 });
    expect(answer.authorizedAt).toBeInstanceOf(Date);
    expect(isCorpToken(s, CORP2, (await client.getToken(CORP2, { platformId: SUITE })).accessToken)).toBe(true);
    // A retry gets the same corp; a code WeCom refuses (40078) fails.
    expect(await client.authorizeByCode(SUITE, authCode)).toEqual(answer);
    await expect(client.authorizeByCode(SUITE, `${authCode}x`)).rejects.toMatchObject({ codeName: "FAILED_PRECONDITION" });
    await expect(client.authorizeByCode(SUITE, "")).rejects.toMatchObject({ codeName: "INVALID_ARGUMENT", reason: "INVALID_AUTH_CODE" });
  });
});

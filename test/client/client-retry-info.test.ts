/**
 * withToken waits out a RetryInfo delay within retryWithinMs instead of
 * failing. The server is a real gRPC server on loopback that answers each
 * RPC once with a status carrying RetryInfo, then with a token: the wxtoken
 * server gives such answers only in races (a refresh backing off) that a test
 * cannot order without timing.
 */
import { Metadata, Server, ServerCredentials, status, type sendUnaryData } from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { Token, TokenServiceService } from "../../generated/wxtoken/v1/token_service.js";
import { TokenClient, TokenServiceError, withToken } from "../../src/index.js";
import { encodeStatusDetails, STATUS_DETAILS_KEY } from "../../packages/client/src/status-details.js";

const APP = "wxretryinfo00001";
const DELAY_MS = 200;
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function token(version: number): Token {
  return Token.fromPartial({ appId: APP, accessToken: `token-v${version}`, version, fingerprint: `fp${version}`, expiresAt: new Date(Date.now() + 3_600_000) });
}

/** A failure as a wxtoken server sends it: the status and, in the trailer, ErrorInfo and RetryInfo. */
function retryLater(code: status, reason: string) {
  const metadata = new Metadata();
  metadata.set(STATUS_DETAILS_KEY, encodeStatusDetails({ code, details: "try again later", reason, retryDelayMs: DELAY_MS }));
  return { code, details: "try again later", metadata };
}

/** Each RPC fails once with RetryInfo, then answers; calls are counted. */
async function onceBusyServer() {
  const calls = { getToken: 0, forceRefresh: 0 };
  const server = new Server();
  server.addService(TokenServiceService, {
    getToken: (_call: unknown, done: sendUnaryData<unknown>) => (++calls.getToken === 1 ? done(retryLater(status.UNAVAILABLE, "WECHAT_ERROR")) : done(null, { token: token(1) })),
    forceRefresh: (_call: unknown, done: sendUnaryData<unknown>) =>
      ++calls.forceRefresh === 1 ? done(retryLater(status.RESOURCE_EXHAUSTED, "QUOTA_EXHAUSTED")) : done(null, { token: token(2), refreshed: true }),
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  cleanups.push(() => server.forceShutdown());
  const client = new TokenClient(`127.0.0.1:${port}`);
  cleanups.push(() => client.close());
  return { calls, client };
}

describe("withToken and RetryInfo", () => {
  it("waits for the advised delay and asks again, for GetToken and for ForceRefresh", async () => {
    const { calls, client } = await onceBusyServer();
    const used: string[] = [];
    const answer = await withToken(client, APP, async (t) => {
      used.push(t);
      if (t === "token-v1") throw Object.assign(new Error("invalid credential"), { errcode: 40001 });
      return "ok";
    });
    expect(answer).toBe("ok");
    expect(used).toEqual(["token-v1", "token-v2"]);
    expect(calls).toEqual({ getToken: 2, forceRefresh: 2 });
  });

  it("fails with the status when the delay does not fit in retryWithinMs", async () => {
    const { calls, client } = await onceBusyServer();
    const failed = await withToken(client, APP, async () => "never", { retryWithinMs: DELAY_MS - 1 }).catch((err: unknown) => err);
    expect(failed).toBeInstanceOf(TokenServiceError);
    expect(failed).toMatchObject({ codeName: "UNAVAILABLE", reason: "WECHAT_ERROR", retryDelayMs: DELAY_MS });
    expect(calls.getToken).toBe(1);
  });

  it("stops waiting when the caller aborts, with the signal's reason", async () => {
    const { calls, client } = await onceBusyServer();
    const stop = new AbortController();
    const pending = withToken(client, APP, async () => "never", { signal: stop.signal }).catch((err: unknown) => err);
    const reason = new Error("caller gave up");
    // Abort once the first GetToken has been answered, i.e. during the wait.
    while (calls.getToken === 0) await new Promise((r) => setImmediate(r));
    stop.abort(reason);
    expect(await pending).toBe(reason);
    expect(calls.getToken).toBe(1);
  });
});

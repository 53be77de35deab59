/**
 * `wxtoken callback-ip` (the built CLI, its own process) waits out the
 * server's RetryInfo delay within --timeout when its passive refresh is
 * refused for a while, and fails at once with EX_TEMPFAIL (75) when the delay
 * does not fit. The WeChat side is the fake over HTTP; the wxtoken side is a
 * gRPC TokenService on loopback that refuses the first ForceRefresh with
 * RESOURCE_EXHAUSTED and RetryInfo, then refreshes: the real server answers
 * with RetryInfo only for delays longer than the call's deadline (shorter
 * ones it waits out itself), which would make this test wait seconds.
 * The one real wait is DELAY_MS; nothing asserts on timing.
 */
import { Metadata, Server, ServerCredentials, status, type sendUnaryData, type ServerWritableStream } from "@grpc/grpc-js";
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { encodeStatusDetails, STATUS_DETAILS_KEY } from "../../packages/client/src/status-details.js";
import { Token, TokenServiceService, type WatchTokenResponse } from "../../generated/wxtoken/v1/token_service.js";
import { FakeWeChat } from "../../src/fake-wechat/index.js";
import { useCli } from "../support/cli.js";
import { APP, SECRETS } from "../support/harness.js";

const fixture = useCli();
/** The advised delay of the refused ForceRefresh: waited out for real, so short. */
const DELAY_MS = 300;

/** A TokenService holding APP's token from the fake WeChat; the first ForceRefresh is refused with RetryInfo(retryDelayMs). */
async function refusingOnceServer(fake: FakeWeChat, retryDelayMs: number) {
  let version = 0;
  const fetchToken = async (): Promise<Token> => {
    const res = await fetch(`${fake.url}/cgi-bin/token?grant_type=client_credential&appid=${APP}&secret=${SECRETS[APP]}`);
    const body = (await res.json()) as { access_token: string; expires_in: number };
    version += 1;
    const fingerprint = createHash("sha256").update(body.access_token).digest("hex").slice(0, 8);
    return Token.fromPartial({ appId: APP, accessToken: body.access_token, version, fingerprint, expiresAt: new Date(Date.now() + body.expires_in * 1000) });
  };
  let current = await fetchToken();
  const calls = { forceRefresh: 0 };
  const streams = new Set<ServerWritableStream<unknown, WatchTokenResponse>>();
  const server = new Server();
  server.addService(TokenServiceService, {
    watchToken: (call: ServerWritableStream<unknown, WatchTokenResponse>) => {
      streams.add(call);
      call.on("cancelled", () => streams.delete(call));
      call.write({ token: current });
    },
    getToken: (_call: unknown, done: sendUnaryData<unknown>) => done(null, { token: current }),
    forceRefresh: (_call: unknown, done: sendUnaryData<unknown>) => {
      if (++calls.forceRefresh === 1) {
        const details = "forced refreshes are limited: ask again later";
        const metadata = new Metadata();
        metadata.set(STATUS_DETAILS_KEY, encodeStatusDetails({ code: status.RESOURCE_EXHAUSTED, details, reason: "FORCE_REFRESH_TOO_SOON", retryDelayMs }));
        return done({ code: status.RESOURCE_EXHAUSTED, details, metadata });
      }
      fetchToken().then(
        (token) => {
          current = token;
          for (const s of streams) s.write({ token });
          done(null, { token, refreshed: true });
        },
        (err: Error) => done({ code: status.UNAVAILABLE, details: err.message }),
      );
    },
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  fixture.defer(() => server.forceShutdown());
  return { addr: `127.0.0.1:${port}`, calls };
}

async function setup(retryDelayMs: number) {
  const fake = new FakeWeChat({ apps: SECRETS });
  await fake.start();
  fixture.defer(() => fake.close());
  const stub = await refusingOnceServer(fake, retryDelayMs);
  // Someone else fetched a new token: WeChat refuses the one the server holds.
  fake.invalidateTokens(APP);
  return { fake, ...stub };
}

describe("wxtoken callback-ip and the server's RetryInfo", () => {
  it("waits out the advised delay within --timeout, then refreshes and succeeds", { timeout: 30_000 }, async () => {
    const s = await setup(DELAY_MS);
    const run = await fixture.cli.run(["callback-ip", APP, "--addr", s.addr, "--wechat", s.fake.url, "--timeout", "5000"]);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toContain("106.55.206.146");
    expect(run.stderr).toMatch(/^WeChat rejected the token \(errcode 40001\); retrying with token v2 \([0-9a-f]{8}\)\n$/);
    // Refused once with RetryInfo, asked again after the delay.
    expect(s.calls.forceRefresh).toBe(2);
    expect(s.fake.calls("/cgi-bin/getcallbackip")).toBe(2);
  });

  it("fails at once with exit code 75 (RESOURCE_EXHAUSTED) when the delay does not fit in --timeout", { timeout: 30_000 }, async () => {
    // 5 s fits the client's default patience (10 s) but not --timeout 2000: only --timeout makes this fail.
    const s = await setup(5_000);
    const run = await fixture.cli.run(["callback-ip", APP, "--addr", s.addr, "--wechat", s.fake.url, "--timeout", "2000", "--json"]);
    expect(run.code, run.stderr).toBe(75);
    expect(run.stdout).toBe("");
    expect(JSON.parse(run.stderr.trim().split("\n").pop()!)).toMatchObject({
      code: "RESOURCE_EXHAUSTED",
      reason: "FORCE_REFRESH_TOO_SOON",
      retry_delay_ms: 5_000,
      exit_code: 75,
    });
    expect(s.calls.forceRefresh).toBe(1);
    expect(s.fake.calls("/cgi-bin/getcallbackip")).toBe(1);
  });
});

/**
 * Every errcode of WeChat's token API, end to end: the fake WeChat answers it,
 * the server maps it, a gRPC caller sees the status written out below with
 * the errcode, errmsg and rid, and the server tries again on its own when the
 * row says, not sooner.
 */
import { status } from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { ERRMSG } from "../../src/fake-wechat/errors.js";
import { ERRCODES } from "../../src/upstream/errors.js";
import { APP, eventually, grpcError, Harness, SECRETS } from "../support/harness.js";

let h: Harness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

const SECOND = 1000;
const MINUTE = 60 * SECOND;

interface Expected {
  code: status;
  /** When the server asks WeChat again by itself (default config), in ms after the failure: [not before, by]. */
  retry: [number, number] | "next quota day";
}

// Written from WeChat's documentation and the README's table, not derived
// from ERRCODES, so that a wrong row there fails here.
const BUSY: Expected = { code: status.UNAVAILABLE, retry: [SECOND / 2, SECOND] }; // 1 s backoff, equal jitter
const DAILY_QUOTA: Expected = { code: status.RESOURCE_EXHAUSTED, retry: "next quota day" };
const RATE_LIMIT: Expected = { code: status.RESOURCE_EXHAUSTED, retry: [MINUTE, 1.2 * MINUTE] };
const IP: Expected = { code: status.FAILED_PRECONDITION, retry: [5 * MINUTE, 6 * MINUTE] }; // adminRetrySeconds, +20%
const CREDENTIALS: Expected = { code: status.FAILED_PRECONDITION, retry: [30 * MINUTE, 36 * MINUTE] }; // permanentRetrySeconds, +20%

const EXPECTED: [errcode: number, expected: Expected][] = [
  [-1, BUSY],
  [40001, CREDENTIALS], // invalid credential: a wrong secret
  [40002, CREDENTIALS], // invalid grant_type: our bug
  [40013, CREDENTIALS], // invalid appid
  [40125, CREDENTIALS], // invalid appsecret
  [40164, IP], // caller IP not in the whitelist
  [40243, CREDENTIALS], // AppSecret frozen
  [41002, CREDENTIALS], // appid missing
  [41004, CREDENTIALS], // appsecret missing
  [43002, CREDENTIALS], // POST required
  [45009, DAILY_QUOTA],
  [45011, RATE_LIMIT],
  [47001, CREDENTIALS], // malformed body: our bug
  [50004, CREDENTIALS], // token API forbidden
  [50007, CREDENTIALS], // account frozen
  [89501, IP], // IP pending admin confirmation
  [89503, IP], // IP needs admin confirmation
  [89506, IP], // IP rejected, blocked for 24 h
  [89507, IP], // IP rejected, blocked for 1 h
];

/** The harness clock starts at 2026-01-01 00:00 UTC, 08:00 in China: the quota resets at 16:00 UTC. */
const NEXT_QUOTA_DAY = Date.UTC(2026, 0, 1, 16, 0, 0);

/**
 * A caller whose deadline ends before the server's next attempt is answered at
 * once (a longer one would wait for that attempt: test/core/operator-faults.test.ts).
 */
const SHORT_DEADLINE_MS = 600;

describe("upstream errcodes reach callers with a defined status", () => {
  it("the errcode table has a row for each errcode of the token API, and no other", () => {
    const documented = EXPECTED.map(([code]) => code).sort((a, b) => a - b);
    expect(Object.keys(ERRCODES).map(Number).sort((a, b) => a - b)).toEqual(documented);
  });

  it.each([...EXPECTED, [99999, CREDENTIALS] as const])("errcode %i", async (errcode, expected) => {
    h = await Harness.start();
    // WeChat sometimes echoes the request's parameters, the secret among them (only to that app).
    const errmsg = `${(ERRMSG[errcode] ?? "error").replaceAll("{ip}", "127.0.0.1")}, request: grant_type=client_credential&appid=${APP}&secret=${SECRETS[APP]}`;
    h.fake.inject({ appId: APP, errcode, errmsg, times: Infinity });
    const err = await grpcError(h.getToken(APP, SHORT_DEADLINE_MS));
    const failedAt = h.clock.now();
    expect(err.code).toBe(expected.code);
    expect(err.details).toContain(`errcode ${errcode}`);
    expect(err.details).toMatch(/rid: [0-9a-f-]+/);
    // The errmsg reaches the caller, with the secret scrubbed out of it.
    expect(err.details).toContain(`appid=${APP}&secret=***`);
    expect(err.details).not.toContain(SECRETS[APP]);
    const callsAfterFirst = h.fake.calls("/cgi-bin/token", APP);
    expect(callsAfterFirst).toBe(1);
    // A burst of callers during the failure does not reach WeChat again.
    const burst = await Promise.all(Array.from({ length: 20 }, () => grpcError(h!.getToken(APP, SHORT_DEADLINE_MS))));
    for (const e of burst) expect(e.code).toBe(expected.code);

    const [notBefore, by] = expected.retry === "next quota day" ? [NEXT_QUOTA_DAY - failedAt, NEXT_QUOTA_DAY - failedAt + MINUTE] : expected.retry;
    await h.clock.advance(failedAt + notBefore - 1 - h.clock.now());
    await new Promise((r) => setTimeout(r, 50)); // room for a premature call to show up
    expect(h.fake.calls("/cgi-bin/token", APP)).toBe(callsAfterFirst);
    await h.clock.advance(failedAt + by - h.clock.now());
    await eventually(() => expect(h!.fake.calls("/cgi-bin/token", APP)).toBe(callsAfterFirst + 1));
    expect(h.logs.text()).not.toContain(SECRETS[APP]);
  });
});

describe("upstream transport failures are transient: UNAVAILABLE, retried", () => {
  it.each([
    ["a garbage body", { garbage: true }],
    ["HTTP 502", { httpStatus: 502 }],
    ["a dropped connection", { drop: true }],
    ["a hang past the timeout", { delayMs: 1500 }],
  ])("%s", async (_what, fault) => {
    h = await Harness.start({ upstreamTimeoutMs: 300 });
    h.fake.inject({ ...fault, times: Infinity });
    const err = await grpcError(h.getToken(APP, SHORT_DEADLINE_MS));
    expect(err.code).toBe(status.UNAVAILABLE);
    expect(err.details).toMatch(/no token obtained yet/);
    expect(err.details).not.toContain(SECRETS[APP]);
    h.fake.clearFaults();
    await h.clock.advance(2_000);
    await eventually(async () => expect((await h!.getToken(APP)).token?.version).toBe(1));
  });
});

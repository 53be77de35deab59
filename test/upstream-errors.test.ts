/**
 * Every errcode of ../shared/wechat-api.md, end to end: the fake WeChat answers
 * it, the server maps it, a gRPC caller sees a defined status with the errcode,
 * errmsg and rid, and the server does (or does not) retry as the row says.
 */
import { status } from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { ERRMSG } from "../src/fake-wechat/errors.js";
import { ERRCODES } from "../src/upstream/errors.js";
import { APP, eventually, grpcError, Harness, SECRETS } from "./support/harness.js";

let h: Harness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

const EXPECTED: Record<string, { code: status; retriedWithinAMinute: boolean }> = {
  transient: { code: status.UNAVAILABLE, retriedWithinAMinute: true },
  quota: { code: status.RESOURCE_EXHAUSTED, retriedWithinAMinute: false },
  admin: { code: status.FAILED_PRECONDITION, retriedWithinAMinute: false },
  permanent: { code: status.FAILED_PRECONDITION, retriedWithinAMinute: false },
};

const rows = Object.entries(ERRCODES).map(([errcode, info]) => ({ errcode: Number(errcode), ...info }));

describe("upstream errcodes reach callers with a defined status", () => {
  it("covers every errcode of the token API", () => {
    const documented = [-1, 40001, 40002, 40013, 40125, 40164, 40243, 41002, 41004, 45009, 50004, 50007, 89503, 89501, 89506, 89507, 43002, 45011, 47001];
    for (const code of documented) expect(ERRCODES[code], `errcode ${code}`).toBeDefined();
  });

  it.each(rows)("errcode $errcode ($meaning): $kind", async ({ errcode, kind }) => {
    h = await Harness.start();
    // WeChat sometimes echoes the request's parameters, the secret among them (only to that app).
    const errmsg = `${(ERRMSG[errcode] ?? "error").replaceAll("{ip}", "127.0.0.1")}, request: grant_type=client_credential&appid=${APP}&secret=${SECRETS[APP]}`;
    h.fake.inject({ appId: APP, errcode, errmsg, times: Infinity });
    const expected = EXPECTED[kind]!;
    const err = await grpcError(h.getToken(APP));
    expect(err.code).toBe(expected.code);
    expect(err.details).toContain(`errcode ${errcode}`);
    expect(err.details).toMatch(/rid: [0-9a-f-]+/);
    // The errmsg reaches the caller, with the secret scrubbed out of it.
    expect(err.details).toContain(`appid=${APP}&secret=***`);
    expect(err.details).not.toContain(SECRETS[APP]);
    const callsAfterFirst = h.fake.calls("/cgi-bin/token", APP);
    // A burst of callers during the failure does not reach WeChat again.
    const burst = await Promise.all(Array.from({ length: 20 }, () => grpcError(h!.getToken(APP))));
    for (const e of burst) expect(e.code).toBe(expected.code);
    expect(h.fake.calls("/cgi-bin/token", APP)).toBe(callsAfterFirst);
    await h.clock.advance(59_000);
    if (expected.retriedWithinAMinute) {
      await eventually(() => expect(h!.fake.calls("/cgi-bin/token", APP)).toBeGreaterThan(callsAfterFirst));
    } else {
      await new Promise((r) => setTimeout(r, 50));
      expect(h.fake.calls("/cgi-bin/token", APP)).toBe(callsAfterFirst);
    }
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
    const err = await grpcError(h.getToken(APP));
    expect(err.code).toBe(status.UNAVAILABLE);
    expect(err.details).toMatch(/no token obtained yet/);
    expect(err.details).not.toContain(SECRETS[APP]);
    h.fake.clearFaults();
    await h.clock.advance(2_000);
    await eventually(async () => expect((await h!.getToken(APP)).token?.version).toBe(1));
  });
});

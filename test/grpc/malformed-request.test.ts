/**
 * Request bytes that do not decode as the method's request message are the
 * client's fault: INVALID_ARGUMENT with reason MALFORMED_REQUEST, not
 * INTERNAL (which would fire server-error alerts). A raw grpc-js client sends
 * the bytes as they are.
 */
import { Client, credentials, Metadata, status, type ServiceError } from "@grpc/grpc-js";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { statusDetailsOf } from "../../packages/client/src/status-details.js";
import { APP, Harness } from "../support/harness.js";

// Field 1 with wire type 7, which protobuf does not have.
const GARBAGE = Buffer.from([0x0f, 0xff, 0xff]);
const identity = (b: Buffer): Buffer => b;

let h: Harness;
let raw: Client;
beforeEach(async () => {
  h = await Harness.start();
  raw = new Client(`127.0.0.1:${h.port}`, credentials.createInsecure());
});
afterEach(async () => {
  raw.close();
  await h.stop();
});

function unary(method: string, body: Buffer): Promise<ServiceError> {
  return new Promise((resolve, reject) =>
    raw.makeUnaryRequest(`/wxtoken.v1.TokenService/${method}`, identity, identity, body, new Metadata(), { deadline: Date.now() + 5000 }, (err) =>
      err ? resolve(err) : reject(new Error("expected the call to fail")),
    ),
  );
}

function expectMalformed(err: ServiceError, method: string): void {
  expect(err.code).toBe(status.INVALID_ARGUMENT);
  expect(err.details).toBe(`request to /wxtoken.v1.TokenService/${method} is not a valid protobuf message (cant skip wire type 7)`);
  expect(statusDetailsOf(err.metadata)?.errorInfo?.reason).toBe("MALFORMED_REQUEST");
}

describe("a request that does not decode", () => {
  it.each(["GetToken", "ForceRefresh"])("answers %s with INVALID_ARGUMENT", async (method) => {
    expectMalformed(await unary(method, GARBAGE), method);
    // Not logged as a server error.
    expect(h.logs.text()).not.toMatch(/internal error/);
  });

  it("ends a WatchToken stream with INVALID_ARGUMENT", async () => {
    const err = await new Promise<ServiceError>((resolve) => {
      const stream = raw.makeServerStreamRequest("/wxtoken.v1.TokenService/WatchToken", identity, identity, GARBAGE, new Metadata(), {
        deadline: Date.now() + 5000,
      });
      stream.on("data", () => undefined);
      stream.on("error", resolve);
    });
    expectMalformed(err, "WatchToken");
  });

  it("leaves well-formed requests alone", async () => {
    const body = Buffer.concat([Buffer.from([0x0a, APP.length]), Buffer.from(APP)]);
    const res = await new Promise<Buffer>((resolve, reject) =>
      raw.makeUnaryRequest("/wxtoken.v1.TokenService/GetToken", identity, identity, body, new Metadata(), (err, r) => (err ? reject(err) : resolve(r!))),
    );
    expect(res.toString("latin1")).toContain(APP);
  });
});

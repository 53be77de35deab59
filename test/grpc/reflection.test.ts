import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import * as grpc from "@grpc/grpc-js";
import { fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { addReflection, reflectedServiceNames } from "../../src/grpc/reflection.js";
import { HealthService } from "../../src/grpc/health.js";
import { descriptorSetBase64 } from "../../generated/descriptor_set.js";
import { TokenServiceService } from "../../generated/wxtoken/v1/token_service.js";
import * as v1 from "../../generated/grpc/reflection/v1/reflection.js";
import * as v1alpha from "../../generated/grpc/reflection/v1alpha/reflection.js";

const run = promisify(execFile);
const BUF = new URL("../../node_modules/.bin/buf", import.meta.url).pathname;

const ALL_SERVICES = [
  "grpc.health.v1.Health",
  "grpc.reflection.v1.ServerReflection",
  "grpc.reflection.v1alpha.ServerReflection",
  "wxtoken.v1.TokenService",
];

let server: grpc.Server;
let port: number;
let clientV1: v1.ServerReflectionClient;
let clientV1alpha: v1alpha.ServerReflectionClient;

beforeAll(async () => {
  server = new grpc.Server();
  // Stubs only so the service is present; reflection is what is under test.
  const unimplemented = (_call: unknown, cb: grpc.sendUnaryData<never>) =>
    cb({ code: grpc.status.UNIMPLEMENTED, details: "stub" });
  server.addService(TokenServiceService, {
    getToken: unimplemented,
    forceRefresh: unimplemented,
    watchToken: (call: grpc.ServerWritableStream<unknown, unknown>) =>
      call.emit("error", { code: grpc.status.UNIMPLEMENTED, details: "stub" }),
  });
  new HealthService().addTo(server);
  addReflection(server);
  port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  clientV1 = new v1.ServerReflectionClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  clientV1alpha = new v1alpha.ServerReflectionClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
});

afterAll(() => {
  clientV1?.close();
  clientV1alpha?.close();
  server?.forceShutdown();
});

type Request = v1.ServerReflectionRequest;
type Response = v1.ServerReflectionResponse;
type MessageRequest = NonNullable<Request["messageRequest"]>;

/** Sends every request on one stream, half-closes, returns responses and final status. */
async function exchange(
  client: v1.ServerReflectionClient | v1alpha.ServerReflectionClient,
  requests: MessageRequest[],
  host = "",
): Promise<{ responses: Response[]; status: grpc.StatusObject }> {
  const call = client.serverReflectionInfo();
  const responses: Response[] = [];
  call.on("data", (r: Response) => responses.push(r));
  const status = new Promise<grpc.StatusObject>((resolve) => call.on("status", resolve));
  call.on("error", () => {}); // the status event carries it
  for (const messageRequest of requests) call.write({ host, messageRequest });
  call.end();
  const timeout = new Promise<never>((_, reject) =>
    setTimeout(() => reject(new Error("reflection stream did not finish")), 5000),
  );
  return { responses, status: await Promise.race([status, timeout]) };
}

async function one(
  messageRequest: MessageRequest,
  client: v1.ServerReflectionClient | v1alpha.ServerReflectionClient = clientV1,
): Promise<Response> {
  const { responses, status } = await exchange(client, [messageRequest]);
  expect(status.code).toBe(grpc.status.OK);
  expect(responses).toHaveLength(1);
  return responses[0]!;
}

function fileNames(r: Response): string[] {
  if (r.messageResponse?.$case !== "fileDescriptorResponse") {
    throw new Error(`expected files, got ${JSON.stringify(r.messageResponse)}`);
  }
  return r.messageResponse.value.fileDescriptorProto.map((b) => fromBinary(FileDescriptorProtoSchema, b).name);
}

function errorOf(r: Response): { errorCode: number; errorMessage: string } {
  if (r.messageResponse?.$case !== "errorResponse") {
    throw new Error(`expected an error, got ${JSON.stringify(r.messageResponse)}`);
  }
  return r.messageResponse.value;
}

describe("reflection via the generated v1 client", () => {
  it("lists every service in the descriptor set", async () => {
    const r = await one({ $case: "listServices", value: "" });
    expect(r.messageResponse).toEqual({
      $case: "listServicesResponse",
      value: { service: ALL_SERVICES.map((name) => ({ name })) },
    });
    expect(reflectedServiceNames()).toEqual(ALL_SERVICES);
  });

  it("returns the file declaring a service plus its imports, as the buf-built bytes", async () => {
    const r = await one({ $case: "fileContainingSymbol", value: "wxtoken.v1.TokenService" });
    expect(fileNames(r)).toEqual([
      "wxtoken/v1/token_service.proto",
      "google/api/annotations.proto",
      "google/api/http.proto",
      "google/protobuf/descriptor.proto",
      "google/protobuf/timestamp.proto",
    ]);

    // Byte-for-byte what buf wrote into the descriptor set.
    const set = fromBinary(FileDescriptorSetSchema, Buffer.from(descriptorSetBase64, "base64"));
    const sent = (r.messageResponse as { value: v1.FileDescriptorResponse }).value.fileDescriptorProto;
    const ts = fromBinary(FileDescriptorProtoSchema, sent[4]!);
    expect(ts).toEqual(set.file.find((f) => f.name === "google/protobuf/timestamp.proto"));
    expect(Buffer.from(descriptorSetBase64, "base64").includes(sent[0]!)).toBe(true);
  });

  it.each([
    ["wxtoken.v1.TokenService.GetToken", "wxtoken/v1/token_service.proto"],
    ["wxtoken.v1.Token", "wxtoken/v1/token_service.proto"],
    ["wxtoken.v1.Token.access_token", "wxtoken/v1/token_service.proto"],
    [".wxtoken.v1.WatchTokenResponse", "wxtoken/v1/token_service.proto"],
    ["grpc.health.v1.HealthCheckResponse.ServingStatus", "grpc/health/v1/health.proto"],
    ["grpc.health.v1.HealthCheckResponse.SERVICE_UNKNOWN", "grpc/health/v1/health.proto"],
    ["grpc.reflection.v1.ServerReflectionRequest.message_request", "grpc/reflection/v1/reflection.proto"],
    ["google.protobuf.Timestamp", "google/protobuf/timestamp.proto"],
  ])("finds the file containing %s", async (symbol, file) => {
    const names = fileNames(await one({ $case: "fileContainingSymbol", value: symbol }));
    expect(names[0]).toBe(file);
  });

  it("answers file_by_filename, and NOT_FOUND for unknown files and symbols", async () => {
    expect(fileNames(await one({ $case: "fileByFilename", value: "grpc/health/v1/health.proto" }))).toEqual([
      "grpc/health/v1/health.proto",
    ]);
    const noFile = errorOf(await one({ $case: "fileByFilename", value: "nope.proto" }));
    expect(noFile).toEqual({ errorCode: grpc.status.NOT_FOUND, errorMessage: "file not found: nope.proto" });
    const noSymbol = errorOf(await one({ $case: "fileContainingSymbol", value: "wxtoken.v1.Nope" }));
    expect(noSymbol.errorCode).toBe(grpc.status.NOT_FOUND);
    expect(noSymbol.errorMessage).toContain("wxtoken.v1.Nope");
    // A package is not a symbol.
    expect(errorOf(await one({ $case: "fileContainingSymbol", value: "wxtoken.v1" })).errorCode).toBe(5);
  });

  it("handles extension requests: none are declared", async () => {
    const ext = await one({
      $case: "fileContainingExtension",
      value: { containingType: "wxtoken.v1.Token", extensionNumber: 100 },
    });
    expect(errorOf(ext).errorCode).toBe(grpc.status.NOT_FOUND);
    const nums = await one({ $case: "allExtensionNumbersOfType", value: "wxtoken.v1.Token" });
    expect(nums.messageResponse).toEqual({
      $case: "allExtensionNumbersResponse",
      value: { baseTypeName: "wxtoken.v1.Token", extensionNumber: [] },
    });
    const unknown = await one({ $case: "allExtensionNumbersOfType", value: "wxtoken.v1.Nope" });
    expect(errorOf(unknown).errorCode).toBe(grpc.status.NOT_FOUND);
  });

  it("answers several requests in order on one stream, echoing host and request, then ends OK", async () => {
    const requests: MessageRequest[] = [
      { $case: "fileContainingSymbol", value: "nope.Nope" },
      { $case: "listServices", value: "*" },
      { $case: "fileByFilename", value: "google/protobuf/timestamp.proto" },
    ];
    const { responses, status } = await exchange(clientV1, requests, "example.com:443");
    expect(status.code).toBe(grpc.status.OK);
    expect(responses.map((r) => r.messageResponse?.$case)).toEqual([
      "errorResponse",
      "listServicesResponse",
      "fileDescriptorResponse",
    ]);
    responses.forEach((r, i) => {
      expect(r.validHost).toBe("example.com:443");
      expect(r.originalRequest).toEqual({ host: "example.com:443", messageRequest: requests[i] });
    });
  });
});

describe("reflection via the generated v1alpha client", () => {
  it("lists services and resolves symbols the same way", async () => {
    const list = await one({ $case: "listServices", value: "" }, clientV1alpha);
    expect(list.messageResponse).toEqual({
      $case: "listServicesResponse",
      value: { service: ALL_SERVICES.map((name) => ({ name })) },
    });
    const files = await one({ $case: "fileContainingSymbol", value: "wxtoken.v1.TokenService" }, clientV1alpha);
    expect(fileNames(files)).toContain("google/protobuf/timestamp.proto");
    const missing = await one({ $case: "fileContainingSymbol", value: "x.Y" }, clientV1alpha);
    expect(errorOf(missing).errorCode).toBe(grpc.status.NOT_FOUND);
  });
});

describe("reflection via the real buf curl", () => {
  const base = () => `http://127.0.0.1:${port}`;
  const bufCurl = (...args: string[]) =>
    run(BUF, ["curl", "--protocol", "grpc", "--http2-prior-knowledge", ...args], { timeout: 15_000 });

  it.each(["grpc-v1", "grpc-v1alpha"])("lists the TokenService methods over %s", async (protocol) => {
    const { stdout } = await bufCurl("--reflect-protocol", protocol, "--list-methods", base());
    const methods = stdout.split("\n").filter((l) => l.startsWith("wxtoken.v1.TokenService/"));
    expect(methods.sort()).toEqual([
      "wxtoken.v1.TokenService/AuthorizeByCode",
      "wxtoken.v1.TokenService/ForceRefresh",
      "wxtoken.v1.TokenService/GetToken",
      "wxtoken.v1.TokenService/ListAuthorizers",
      "wxtoken.v1.TokenService/ListCredentials",
      "wxtoken.v1.TokenService/SignJsSdk",
      "wxtoken.v1.TokenService/SyncAuthorizers",
      "wxtoken.v1.TokenService/WatchToken",
    ]);
  });

  it("calls Health/Check with the schema from reflection", async () => {
    const { stdout } = await bufCurl("-d", "{}", `${base()}/grpc.health.v1.Health/Check`);
    expect(JSON.parse(stdout)).toEqual({ status: "SERVING" });
  });

  it("resolves a method whose messages import google/protobuf/timestamp.proto", async () => {
    // Reaching the stub's UNIMPLEMENTED proves buf curl built the request
    // (Token has Timestamp fields) from what reflection sent.
    const err = await bufCurl("-d", '{"app_id":"wx1"}', `${base()}/wxtoken.v1.TokenService/GetToken`).catch(
      (e: { stderr: string; code: number }) => e,
    );
    expect(err).toMatchObject({ code: grpc.status.UNIMPLEMENTED << 3 });
    expect((err as { stderr: string }).stderr).toMatch(/unimplemented/i);
  });
});

/**
 * The servers the benches measure, all on 127.0.0.1 in the bench process:
 * wxtoken (WxTokenServer with the FakeWeChat as upstream, built from a config
 * object as `wxtoken demo` does), and a bare grpc-js server to compare with.
 */
import { Server, ServerCredentials, status, type UntypedServiceImplementation } from "@grpc/grpc-js";
import { TokenServiceService, type GetTokenResponse, type TokenServiceServer } from "../../generated/wxtoken/v1/token_service.js";
import { parseConfig } from "../../src/config/load.js";
import type { ConfigInput } from "../../src/config/schema.js";
import { FakeWeChat } from "../../src/fake-wechat/index.js";
import { createLogger } from "../../src/log.js";
import { WxTokenServer } from "../../src/wxtoken.js";

export const BENCH_APP = "wxbench000000001";
const BENCH_SECRET = "bench-secret-0123456789abcdef0123";

export interface BenchServer {
  server: WxTokenServer;
  fake: FakeWeChat;
  target: string;
  /** host:port of the HTTP API. */
  httpTarget: string;
  close(): Promise<void>;
}

/**
 * wxtoken as deployed (default channel options, memory store), with the quota
 * guard opened up for rotations on demand; `connections` overrides the
 * listeners' caps (a bench with more connections than the defaults allow).
 */
export async function startWxToken(connections?: ConfigInput["connections"]): Promise<BenchServer> {
  const fake = new FakeWeChat({ apps: { [BENCH_APP]: BENCH_SECRET }, dailyQuota: 1_000_000 });
  const upstreamUrl = await fake.start();
  const loaded = parseConfig(
    {
      listen: "127.0.0.1:0",
      upstream: { baseUrl: upstreamUrl },
      store: { type: "memory" },
      apps: [{ appId: BENCH_APP, secretEnv: "WXTOKEN_BENCH_SECRET", tickets: ["jsapi"] }],
      quota: { dailyBudget: 1_000_000, forceRefreshDailyBudget: 1_000_000, minForceRefreshIntervalSeconds: 0, clientForceRefreshPerMinute: 1_000_000 },
      shutdownGraceMs: 1000,
      http: { listen: "127.0.0.1:0" },
      connections,
      // Every watcher of a fan-out comes from this one host: above the caps a production server keeps per client.
      watches: { tokens: { perClient: 1_000_000, perConnection: 1_000_000, total: 1_000_000 } },
    },
    { env: { WXTOKEN_BENCH_SECRET: BENCH_SECRET } },
  );
  const server = await WxTokenServer.create(loaded, { log: createLogger({ level: "warn" }) });
  const port = await server.listen("127.0.0.1:0");
  await server.credential(BENCH_APP).get();
  await server.credential(BENCH_APP, { kind: "jsapi_ticket" }).get();
  return {
    server,
    fake,
    target: `127.0.0.1:${port}`,
    httpTarget: `127.0.0.1:${server.httpPort}`,
    async close() {
      await server.shutdown(1000);
      await fake.close();
    },
  };
}

export const ECHO_PATH = "/bench.Echo/Echo";
const identity = (b: Buffer): Buffer => b;

/**
 * A bare grpc-js server (default options, no interceptors) with two unary
 * methods: Echo answers the request bytes as they came; the TokenService's
 * GetToken answers a constant response (the same bytes wxtoken would send, so
 * the client does exactly the work it does against wxtoken).
 */
export async function startBareServer(reply: GetTokenResponse): Promise<{ target: string; close(): Promise<void> }> {
  const server = new Server();
  const echo = { Echo: { path: ECHO_PATH, requestStream: false, responseStream: false, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity } };
  const echoImpl: UntypedServiceImplementation = { Echo: (call: { request: Buffer }, cb: (err: null, res: Buffer) => void) => cb(null, call.request) };
  server.addService(echo, echoImpl);
  const unimplemented = { code: status.UNIMPLEMENTED, details: "bench server: GetToken only" };
  const constant: TokenServiceServer = {
    getToken: (_call, cb) => cb(null, reply),
    forceRefresh: (_call, cb) => cb(unimplemented, null),
    watchToken: (call) => call.emit("error", unimplemented),
    signJsSdk: (_call, cb) => cb(unimplemented, null),
    authorizeByCode: (_call, cb) => cb(unimplemented, null),
    listAuthorizers: (_call, cb) => cb(unimplemented, null),
    syncAuthorizers: (_call, cb) => cb(unimplemented, null),
    listCredentials: (_call, cb) => cb(unimplemented, null),
  };
  server.addService(TokenServiceService, constant);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    target: `127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
  };
}

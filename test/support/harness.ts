/**
 * Test harness: the real server on a loopback port, the fake WeChat over real
 * HTTP, one shared fake clock, and a real gRPC client.
 */
import { credentials, Metadata, type ChannelCredentials, type ClientReadableStream, type ServiceError } from "@grpc/grpc-js";
import { mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import {
  ForceRefreshRequest,
  GetTokenRequest,
  SignJsSdkRequest,
  TokenServiceClient,
  type ForceRefreshResponse,
  type GetTokenResponse,
  type SignJsSdkResponse,
  type WatchTokenResponse,
} from "../../generated/wxtoken/v1/token_service.js";
import { clientOptions } from "../../packages/client/src/client-credentials.js";
import { FakeClock } from "../../src/clock.js";
import { parseConfig, type LoadedConfig } from "../../src/config/load.js";
import type { ConfigInput } from "../../src/config/schema.js";
import { FakeWeChat, type FakeWeChatOptions, type Fault } from "../../src/fake-wechat/index.js";
import { createLogger } from "../../src/log.js";
import type { AccessPolicy } from "../../src/core/access-policy.js";
import { WxTokenServer } from "../../src/wxtoken.js";
import type { TokenStore } from "../../src/core/store.js";
import { WeChatClient } from "../../src/upstream/wechat-client.js";

export const APP = "wx1111111111111111";
export const APP2 = "wx2222222222222222";
export const SECRETS: Record<string, string> = {
  [APP]: "s3cr3t-one-SHOULD-NEVER-LEAK-0001",
  [APP2]: "s3cr3t-two-SHOULD-NEVER-LEAK-0002",
};

/** Collects every log line, to assert on and to prove the secret never appears. */
export class LogCapture extends Writable {
  readonly lines: string[] = [];
  override _write(chunk: Buffer, _enc: string, cb: () => void): void {
    this.lines.push(...chunk.toString("utf8").split("\n").filter(Boolean));
    cb();
  }
  text(): string {
    return this.lines.join("\n");
  }
}

export interface HarnessOptions {
  clock?: FakeClock;
  fake?: FakeWeChat;
  expiresIn?: number;
  config?: Partial<ConfigInput>;
  /** More environment for the config: secretEnv names of `apps`, a Redis password for store.passwordEnv. */
  env?: Record<string, string>;
  store?: TokenStore;
  storePath?: string;
  upstreamTimeoutMs?: number;
  /** Injected into the harness's own fake WeChat before the server starts (and so before its first fetch). */
  faults?: Fault[];
  /** Stands in for the configured authentication (tests of per-client limits). */
  accessPolicy?: AccessPolicy;
  /** The harness client's channel credentials (default plaintext) and API key (default none). */
  clientCredentials?: ChannelCredentials;
  apiKey?: string;
  /** The config's apps instead of APP and APP2 (their secrets in `env`). */
  apps?: unknown[];
  /** More options for the harness's own fake WeChat (tickets, WeCom corps). */
  fakeOptions?: Partial<FakeWeChatOptions>;
}

export class Harness {
  private constructor(
    readonly clock: FakeClock,
    readonly fake: FakeWeChat,
    readonly server: WxTokenServer,
    readonly client: InstanceType<typeof TokenServiceClient>,
    readonly logs: LogCapture,
    readonly port: number,
    readonly loaded: LoadedConfig,
    private readonly ownsFake: boolean,
  ) {}

  static async start(opts: HarnessOptions = {}): Promise<Harness> {
    const clock = opts.clock ?? new FakeClock();
    const ownsFake = !opts.fake;
    const fake = opts.fake ?? new FakeWeChat({ apps: SECRETS, clock, expiresIn: opts.expiresIn ?? 7200, overlapMs: 300_000, ...opts.fakeOptions });
    if (ownsFake) await fake.start();
    for (const f of opts.faults ?? []) fake.inject(f);
    const loaded = parseConfig(
      {
        listen: "127.0.0.1:0",
        store: opts.storePath ? { type: "file", path: opts.storePath } : { type: "memory" },
        apps: opts.apps ?? Object.keys(SECRETS).map((appId) => ({ appId, secretEnv: `SECRET_${appId}` })),
        shutdownGraceMs: 2000,
        // Most tests force refreshes back to back; the quota guard has its own tests.
        quota: { dailyBudget: 100_000, forceRefreshDailyBudget: 100_000, minForceRefreshIntervalSeconds: 0, clientForceRefreshPerMinute: 1_000_000 },
        ...opts.config,
        upstream: {
          baseUrl: fake.url,
          ...(fake.wecomUrl ? { wecomBaseUrl: fake.wecomUrl } : {}),
          timeoutMs: opts.upstreamTimeoutMs ?? 2000,
          ...opts.config?.upstream,
        },
      },
      { env: { ...Object.fromEntries(Object.entries(SECRETS).map(([id, s]) => [`SECRET_${id}`, s])), ...opts.env } },
    );
    const logs = new LogCapture();
    const log = createLogger({ level: "debug", destination: logs });
    const upstream = new WeChatClient({ baseUrl: fake.url, timeoutMs: opts.upstreamTimeoutMs ?? 2000 });
    const server = await WxTokenServer.create(loaded, { log, clock, upstream, store: opts.store, random: () => 0, accessPolicy: opts.accessPolicy });
    const port = await server.listen("127.0.0.1:0");
    const client = new TokenServiceClient(`127.0.0.1:${port}`, opts.clientCredentials ?? credentials.createInsecure(), clientOptions({ apiKey: opts.apiKey }));
    return new Harness(clock, fake, server, client, logs, port, loaded, ownsFake);
  }

  getToken(appId: string, deadlineMs = 5000): Promise<GetTokenResponse> {
    return new Promise((resolve, reject) =>
      this.client.getToken({ kind: 0, agent: "", platformId: "", appId }, new Metadata(), { deadline: Date.now() + deadlineMs }, (err, res) => (err ? reject(err) : resolve(res))),
    );
  }

  forceRefresh(appId: string, staleToken: string, deadlineMs = 5000): Promise<ForceRefreshResponse> {
    return new Promise((resolve, reject) =>
      this.client.forceRefresh({ kind: 0, agent: "", platformId: "", appId, staleToken }, new Metadata(), { deadline: Date.now() + deadlineMs }, (err, res) =>
        err ? reject(err) : resolve(res),
      ),
    );
  }

  /** GetToken with any request fields (kind, agent). */
  get(req: Partial<GetTokenRequest>, deadlineMs = 5000): Promise<GetTokenResponse> {
    return new Promise((resolve, reject) =>
      this.client.getToken(GetTokenRequest.fromPartial(req), new Metadata(), { deadline: Date.now() + deadlineMs }, (err, res) => (err ? reject(err) : resolve(res))),
    );
  }

  /** ForceRefresh with any request fields. */
  refresh(req: Partial<ForceRefreshRequest>, deadlineMs = 5000): Promise<ForceRefreshResponse> {
    return new Promise((resolve, reject) =>
      this.client.forceRefresh(ForceRefreshRequest.fromPartial(req), new Metadata(), { deadline: Date.now() + deadlineMs }, (err, res) =>
        err ? reject(err) : resolve(res),
      ),
    );
  }

  sign(req: Partial<SignJsSdkRequest>, deadlineMs = 5000): Promise<SignJsSdkResponse> {
    return new Promise((resolve, reject) =>
      this.client.signJsSdk(SignJsSdkRequest.fromPartial(req), new Metadata(), { deadline: Date.now() + deadlineMs }, (err, res) => (err ? reject(err) : resolve(res))),
    );
  }

  async stop(): Promise<void> {
    this.client.close();
    await this.server.shutdown(500);
    if (this.ownsFake) await this.fake.close();
  }
}

/** Every message a watch stream delivers, and how it ended: its error, or undefined for a clean end. */
export function collect(stream: ClientReadableStream<WatchTokenResponse>): { messages: WatchTokenResponse[]; ended: Promise<ServiceError | undefined> } {
  const messages: WatchTokenResponse[] = [];
  stream.on("data", (m: WatchTokenResponse) => messages.push(m));
  const ended = new Promise<ServiceError | undefined>((resolve) => {
    stream.on("error", (err: ServiceError) => resolve(err));
    stream.on("end", () => resolve(undefined));
  });
  return { messages, ended };
}

/** Resolves with the gRPC error a promise rejects with; fails if it resolves. */
export async function grpcError(p: Promise<unknown>): Promise<ServiceError> {
  try {
    await p;
  } catch (err) {
    return err as ServiceError;
  }
  throw new Error("expected the call to fail, but it succeeded");
}

/** Waits (real time) for I/O started by the fake clock to finish. */
export async function eventually(check: () => void | Promise<void>, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (err) {
      if (Date.now() > end) throw err;
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

/** A fake WeChat on the given clock, started; its close() is pushed onto cleanups. */
export async function startFakeWeChat(clock: FakeClock, cleanups: (() => unknown)[]): Promise<FakeWeChat> {
  const fake = new FakeWeChat({ apps: SECRETS, clock });
  await fake.start();
  cleanups.push(() => fake.close());
  return fake;
}

/** A loopback port that was free a moment ago, for a command that must be told its port. */
export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "wxtoken-test-"));
}

/**
 * Load process for the unary and TokenSource benches: keeps a fixed number of
 * calls in flight for a fixed time and reports calls/s and latency; or reads
 * TokenSource.token() in a tight loop.
 */
import { Client, credentials, type ServiceError } from "@grpc/grpc-js";
import { Pool } from "undici";
import { GetTokenRequest, TokenServiceClient } from "../../generated/wxtoken/v1/token_service.js";
import { TokenSource } from "@wxtoken/client";
import type { SourceReads, ToUnaryClient, UnaryLoad, UnaryResult } from "../support/protocol.js";
import { ECHO_PATH } from "../support/servers.js";
import { percentile, wallMs } from "../support/stats.js";

type Call = (done: (err: ServiceError | null) => void) => void;

function makeCaller(load: UnaryLoad): { call: Call; close(): void; ready(deadline: number): Promise<void> } {
  if (load.kind === "httpGet") {
    // HTTP/1.1 keep-alive: as many connections as calls in flight, the way an HTTP client pool works.
    const pool = new Pool(`http://${load.target}`, { connections: load.concurrency, pipelining: 1 });
    const path = `/v1/apps/${load.appId}/token`;
    return {
      call: (done) => {
        pool.request({ method: "GET", path }).then(
          async (res) => {
            await res.body.text();
            done(res.statusCode === 200 ? null : ({ message: `HTTP ${res.statusCode}` } as ServiceError));
          },
          (err: Error) => done({ message: err.message } as ServiceError),
        );
      },
      close: () => void pool.close(),
      ready: async () => undefined,
    };
  }
  if (load.kind === "getToken") {
    const client = new TokenServiceClient(load.target, credentials.createInsecure());
    const request = { appId: load.appId, kind: load.credential ?? 0, agent: "", platformId: load.platformId ?? "" };
    return {
      call: (done) => client.getToken(request, (err) => done(err)),
      close: () => client.close(),
      ready: (deadline) => new Promise((res, rej) => client.waitForReady(deadline, (e) => (e ? rej(e) : res()))),
    };
  }
  const client = new Client(load.target, credentials.createInsecure());
  // The same bytes a GetToken request carries.
  const payload = Buffer.from(GetTokenRequest.encode({ appId: load.appId, kind: load.credential ?? 0, agent: "", platformId: load.platformId ?? "" }).finish());
  const identity = (b: Buffer): Buffer => b;
  return {
    call: (done) => client.makeUnaryRequest(ECHO_PATH, identity, identity, payload, (err) => done(err)),
    close: () => client.close(),
    ready: (deadline) => new Promise((res, rej) => client.waitForReady(deadline, (e) => (e ? rej(e) : res()))),
  };
}

async function unary(load: UnaryLoad): Promise<UnaryResult> {
  const caller = makeCaller(load);
  await caller.ready(Date.now() + 5000);
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  const start = wallMs();
  const measureFrom = start + load.warmupMs;
  const end = measureFrom + load.durationMs;
  await new Promise<void>((resolve) => {
    let running = load.concurrency;
    const loop = (): void => {
      const t0 = wallMs();
      if (t0 >= end) {
        if (--running === 0) resolve();
        return;
      }
      caller.call((err) => {
        const t1 = wallMs();
        if (t0 >= measureFrom) {
          if (err) {
            errors++;
            firstError ??= err.message;
          } else latencies.push(t1 - t0);
        }
        loop();
      });
    };
    for (let i = 0; i < load.concurrency; i++) loop();
  });
  caller.close();
  return {
    type: "unary-result",
    calls: latencies.length,
    errors,
    firstError,
    seconds: load.durationMs / 1000,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
  };
}

async function sourceReads(req: SourceReads): Promise<void> {
  const source = await TokenSource.create({ address: req.target, appId: req.appId });
  let reads = 0;
  let sink = 0;
  const start = wallMs();
  const end = start + req.durationMs;
  let now = start;
  while (now < end) {
    for (let i = 0; i < 100_000; i++) sink += source.token().length;
    reads += 100_000;
    now = wallMs();
  }
  await source.close();
  if (sink === 0) throw new Error("no token read");
  process.send!({ type: "token-source-result", reads, seconds: (now - start) / 1000 });
}

process.on("message", (m: ToUnaryClient) => {
  const done = (p: Promise<unknown>): void => {
    p.catch((err: Error) => {
      console.error(`unary-client: ${err.stack ?? err.message}`);
      process.exit(1);
    });
  };
  if (m.type === "unary") done(unary(m).then((r) => process.send!(r)));
  else if (m.type === "token-source") done(sourceReads(m));
  else if (m.type === "stop") process.exit(0);
});

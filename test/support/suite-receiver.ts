/**
 * A WeCom suite's 指令回调URL for tests: a loopback HTTP server that verifies
 * and decrypts pushes with src/openplatform (the receiver id is the suite id)
 * and keeps what arrived, raw and decrypted.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { request } from "undici";
import type { PushCryptoError } from "../../src/openplatform/crypto.js";
import { openPush, pushQueryOf, type PushKeys } from "../../src/openplatform/push.js";

export interface ReceivedPush {
  query: URLSearchParams;
  body: string;
  fields: Record<string, string>;
}

export interface SuiteReceiver {
  url: string;
  pushes: ReceivedPush[];
  /** Error codes of the pushes refused (bad_signature, wrong_receiver, ...). */
  rejected: string[];
  /** Resolves with the next push that arrives. */
  next(): Promise<ReceivedPush>;
  close(): Promise<void>;
}

export async function suiteReceiver(keys: PushKeys): Promise<SuiteReceiver> {
  const pushes: ReceivedPush[] = [];
  const rejected: string[] = [];
  let waiters: Array<(p: ReceivedPush) => void> = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const query = new URL(req.url ?? "/", "http://x").searchParams;
      const body = Buffer.concat(chunks).toString("utf8");
      try {
        const push = { query, body, fields: openPush(keys, pushQueryOf(query), body) };
        pushes.push(push);
        for (const w of waiters) w(push);
        waiters = [];
        res.end("success");
      } catch (err) {
        rejected.push((err as PushCryptoError).code ?? (err as Error).name);
        res.statusCode = 400;
        res.end("bad push");
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/wecom/suite?from=fake`,
    pushes,
    rejected,
    next: () => new Promise((r) => waiters.push(r)),
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** A JSON call to the fake's WeCom host: POST with a body, GET without. */
export async function wecomCall(base: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
  const res = await request(`${base}${path}`, body === undefined ? { method: "GET" } : { method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json" } });
  if (res.statusCode !== 200) throw new Error(`${path}: HTTP ${res.statusCode}`);
  return (await res.body.json()) as Record<string, unknown>;
}

/**
 * A push URL as WeChat's pushes reach it, for tests of the fake's pushes: a
 * loopback HTTP server that verifies and decrypts each push with
 * src/platform/push.ts (an Open Platform component's, or a WeCom suite's:
 * the receiver id says which), keeps what arrived, raw and decrypted, and
 * answers `success` (400 for a push it refuses).
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { PushCryptoError } from "../../src/platform/crypto.js";
import { openPush, pushQueryOf, type PushKeys } from "../../src/platform/push.js";

export interface ReceivedPush {
  query: URLSearchParams;
  body: string;
  fields: Record<string, string>;
}

export interface PushReceiver {
  url: string;
  pushes: ReceivedPush[];
  /** Error codes of the pushes refused (bad_signature, wrong_receiver, ...). */
  rejected: string[];
  /** Resolves with the next push that arrives. */
  next(): Promise<ReceivedPush>;
  close(): Promise<void>;
}

export async function pushReceiver(keys: PushKeys): Promise<PushReceiver> {
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

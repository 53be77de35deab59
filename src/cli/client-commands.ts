/** `wxtoken get | refresh | watch`: small clients of a running server, on the client library. */
import type { Token } from "../../generated/wxtoken/v1/token_service.js";
import { clientChannelCredentials, clientOptions, type ClientAuthOptions } from "../auth/client-credentials.js";
import { TokenServiceError } from "../client/errors.js";
import { TokenClient, type TokenClientOptions } from "../client/token-client.js";

export const DEFAULT_ADDR = "127.0.0.1:50051";

/** Plaintext without TLS flags; the API key, if any, goes with every call. */
export function tokenClientOptions(auth: ClientAuthOptions, timeoutMs?: number): TokenClientOptions {
  return { credentials: clientChannelCredentials(auth), channelOptions: clientOptions(auth), timeoutMs };
}

function printable(t: Token): Record<string, unknown> {
  return {
    app_id: t.appId,
    access_token: t.accessToken,
    version: t.version,
    fingerprint: t.fingerprint,
    obtained_at: t.obtainedAt?.toISOString(),
    expires_at: t.expiresAt?.toISOString(),
    refresh_at: t.refreshAt?.toISOString(),
  };
}

/** Runs a call; a status error is printed and exits 1, anything else propagates. */
async function withClient<T>(addr: string, options: TokenClientOptions, run: (client: TokenClient) => Promise<T>): Promise<T> {
  const client = new TokenClient(addr, options);
  try {
    return await run(client);
  } catch (err) {
    if (!(err instanceof TokenServiceError)) throw err;
    process.stderr.write(`error: ${err.codeName}: ${err.details}\n`);
    process.exit(1);
  } finally {
    client.close();
  }
}

export async function getCommand(addr: string, appId: string, timeoutMs: number, auth: ClientAuthOptions = {}): Promise<void> {
  const token = await withClient(addr, tokenClientOptions(auth, timeoutMs), (c) => c.getToken(appId));
  process.stdout.write(JSON.stringify(printable(token), null, 2) + "\n");
}

export async function refreshCommand(addr: string, appId: string, stale: string, timeoutMs: number, auth: ClientAuthOptions = {}): Promise<void> {
  const res = await withClient(addr, tokenClientOptions(auth, timeoutMs), (c) => c.forceRefresh(appId, stale));
  process.stdout.write(JSON.stringify({ refreshed: res.refreshed, token: printable(res.token) }, null, 2) + "\n");
}

/** Prints one JSON line per token until Ctrl-C or the server ends the stream. */
export async function watchCommand(addr: string, appId: string, known: { version: number; fingerprint: string }, auth: ClientAuthOptions = {}): Promise<void> {
  const stop = new AbortController();
  process.once("SIGINT", () => stop.abort());
  await withClient(addr, tokenClientOptions(auth), async (c) => {
    for await (const token of c.watch(appId, { knownVersion: known.version, knownFingerprint: known.fingerprint, signal: stop.signal })) {
      process.stdout.write(JSON.stringify(printable(token)) + "\n");
    }
  });
}

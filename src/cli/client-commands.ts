/** `wxtoken get | refresh | watch`: small clients of a running server. */
import { Metadata, status, type ServiceError } from "@grpc/grpc-js";
import { TokenServiceClient, type Token } from "../../generated/wxtoken/v1/token_service.js";
import { clientChannelCredentials, clientOptions, type ClientAuthOptions } from "../auth/client-credentials.js";

export const DEFAULT_ADDR = "127.0.0.1:50051";

/** Plaintext without TLS flags; the API key, if any, goes with every call. */
function connect(addr: string, auth: ClientAuthOptions): InstanceType<typeof TokenServiceClient> {
  return new TokenServiceClient(addr, clientChannelCredentials(auth), clientOptions(auth));
}

function printable(t: Token | undefined): Record<string, unknown> {
  if (!t) return {};
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

function fail(err: ServiceError): never {
  process.stderr.write(`error: ${status[err.code] ?? err.code}: ${err.details}\n`);
  process.exit(1);
}

export async function getCommand(addr: string, appId: string, timeoutMs: number, auth: ClientAuthOptions = {}): Promise<void> {
  const client = connect(addr, auth);
  const res = await new Promise<{ token?: Token }>((resolve) =>
    client.getToken({ appId }, new Metadata(), { deadline: Date.now() + timeoutMs }, (err, r) => (err ? fail(err) : resolve(r))),
  );
  client.close();
  process.stdout.write(JSON.stringify(printable(res.token), null, 2) + "\n");
}

export async function refreshCommand(addr: string, appId: string, stale: string, timeoutMs: number, auth: ClientAuthOptions = {}): Promise<void> {
  const client = connect(addr, auth);
  const res = await new Promise<{ token?: Token; refreshed: boolean }>((resolve) =>
    client.forceRefresh({ appId, staleToken: stale }, new Metadata(), { deadline: Date.now() + timeoutMs }, (err, r) =>
      err ? fail(err) : resolve(r),
    ),
  );
  client.close();
  process.stdout.write(JSON.stringify({ refreshed: res.refreshed, token: printable(res.token) }, null, 2) + "\n");
}

/** Prints one JSON line per token until Ctrl-C or the server ends the stream. */
export async function watchCommand(addr: string, appId: string, known: { version: number; fingerprint: string }, auth: ClientAuthOptions = {}): Promise<void> {
  const client = connect(addr, auth);
  const stream = client.watchToken({ appId, knownVersion: known.version, knownFingerprint: known.fingerprint });
  process.once("SIGINT", () => stream.cancel());
  await new Promise<void>((resolve) => {
    stream.on("data", (m: { token?: Token }) => process.stdout.write(JSON.stringify(printable(m.token)) + "\n"));
    stream.on("error", (err: ServiceError) => {
      if (err.code === status.CANCELLED) resolve();
      else fail(err);
    });
    stream.on("end", resolve);
  });
  client.close();
}

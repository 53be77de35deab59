/**
 * The client side of authentication: TLS channel credentials from PEM files,
 * and an interceptor that sends the API key. An interceptor rather than call
 * credentials because grpc-js refuses call credentials on a plaintext channel,
 * and a server on loopback (or behind a TLS-terminating proxy) is plaintext.
 */
import { credentials, type ChannelCredentials, type ClientOptions, type Interceptor, InterceptingCall } from "@grpc/grpc-js";
import { readFileSync } from "node:fs";

export interface ClientAuthOptions {
  /** Sent as `authorization: Bearer <key>` on every call. */
  apiKey?: string;
  /** CA (PEM) that signed the server's certificate; the system roots when absent. Any of the three turns TLS on. */
  tlsCa?: string;
  /** Client certificate (PEM) for mutual TLS; needs tlsKey. */
  tlsCert?: string;
  tlsKey?: string;
  /** The name to expect in the server's certificate, when it differs from the address's host. */
  tlsServerName?: string;
}

export function apiKeyInterceptor(apiKey: string): Interceptor {
  return (options, nextCall) =>
    new InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        metadata.set("authorization", `Bearer ${apiKey}`);
        next(metadata, listener);
      },
    });
}

function readPem(what: string, path: string | undefined): Buffer | null {
  if (path === undefined) return null;
  try {
    return readFileSync(path);
  } catch (err) {
    throw new Error(`cannot read ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? "error"}`);
  }
}

/** Plaintext unless a TLS file is given. */
export function clientChannelCredentials(opts: ClientAuthOptions): ChannelCredentials {
  if (opts.tlsCa === undefined && opts.tlsCert === undefined && opts.tlsKey === undefined) return credentials.createInsecure();
  if ((opts.tlsCert === undefined) !== (opts.tlsKey === undefined)) throw new Error("a client certificate needs both --tls-cert and --tls-key");
  return credentials.createSsl(readPem("--tls-ca", opts.tlsCa), readPem("--tls-key", opts.tlsKey), readPem("--tls-cert", opts.tlsCert));
}

export function clientOptions(opts: ClientAuthOptions): Partial<ClientOptions> {
  return {
    ...(opts.apiKey ? { interceptors: [apiKeyInterceptor(opts.apiKey)] } : {}),
    ...(opts.tlsServerName ? { "grpc.ssl_target_name_override": opts.tlsServerName } : {}),
  };
}

/**
 * The listening socket's credentials: plaintext, or TLS from the config's
 * files, optionally asking for (or requiring) client certificates. The files
 * are checked up front, so a bad path or a key that does not match its
 * certificate is a config error naming the key, not a server that silently
 * drops every connection; afterwards they are re-read every `reloadSeconds`,
 * so a renewed certificate is picked up without a restart.
 */
import { experimental, ServerCredentials } from "@grpc/grpc-js";
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { createSecureContext } from "node:tls";
import { ConfigError } from "../errors.js";
import type { TlsFiles } from "./tls-files.js";

export interface ListenCredentials {
  credentials: ServerCredentials;
  /** Resolves once the TLS files are loaded into the bound server (at once for plaintext). */
  ready(): Promise<void>;
}

export function serverCredentials(tls: TlsFiles | undefined): ListenCredentials {
  if (tls === undefined) return { credentials: ServerCredentials.createInsecure(), ready: () => Promise.resolve() };
  checkTlsFiles(tls);
  const provider = new experimental.FileWatcherCertificateProvider({
    certificateFile: tls.certFile,
    privateKeyFile: tls.keyFile,
    caCertificateFile: tls.clientCaFile,
    refreshIntervalMs: tls.reloadSeconds * 1000,
  });
  const caProvider = tls.clientCaFile === undefined ? null : provider;
  // grpc-js names these two parameters the wrong way round: the first is the server's identity, the second the client CA.
  const credentials = experimental.createCertificateProviderServerCredentials(provider, caProvider, tls.requireClientCert);
  return { credentials, ready: () => firstLoad(provider, caProvider !== null) };
}

/**
 * The provider reads the files asynchronously and grpc-js drops connections
 * until it has; a listener added after the server's own is told after it,
 * so when this resolves the server has its certificates.
 */
function firstLoad(provider: experimental.FileWatcherCertificateProvider, withCa: boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    const listener = (update: unknown): void => {
      if (withCa) provider.removeCaCertificateListener(listener);
      else provider.removeIdentityCertificateListener(listener);
      if (update) resolve();
      else reject(new ConfigError("config error at tls: the certificate files could not be read"));
    };
    if (withCa) provider.addCaCertificateListener(listener);
    else provider.addIdentityCertificateListener(listener);
  });
}

function read(key: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ConfigError(`config error at tls.${key}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? "error"}`);
  }
}

/** Throws ConfigError naming the key when a file is missing or not usable (key and certificate must match). */
function checkTlsFiles(tls: TlsFiles): void {
  const cert = read("certFile", tls.certFile);
  const key = read("keyFile", tls.keyFile);
  parseCertificate("certFile", cert);
  try {
    createSecureContext({ cert, key });
  } catch (err) {
    throw new ConfigError(`config error at tls.keyFile: not a PEM private key matching tls.certFile (${(err as Error).message})`);
  }
  if (tls.clientCaFile !== undefined) parseCertificate("clientCaFile", read("clientCaFile", tls.clientCaFile));
}

function parseCertificate(key: string, pem: Buffer): void {
  try {
    new X509Certificate(pem);
  } catch (err) {
    throw new ConfigError(`config error at tls.${key}: not a PEM certificate (${(err as Error).message})`);
  }
}

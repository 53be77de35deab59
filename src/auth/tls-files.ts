/** The config's `tls` section with its paths resolved against the config file's folder. */
import { resolve } from "node:path";
import type { TlsConfig } from "./schema.js";

export interface TlsFiles {
  certFile: string;
  keyFile: string;
  clientCaFile?: string;
  requireClientCert: boolean;
  reloadSeconds: number;
}

export function resolveTlsFiles(tls: TlsConfig | undefined, baseDir: string): TlsFiles | undefined {
  if (tls === undefined) return undefined;
  return {
    certFile: resolve(baseDir, tls.certFile),
    keyFile: resolve(baseDir, tls.keyFile),
    clientCaFile: tls.clientCaFile === undefined ? undefined : resolve(baseDir, tls.clientCaFile),
    requireClientCert: tls.requireClientCert,
    reloadSeconds: tls.reloadSeconds,
  };
}

/**
 * Test support for authentication: a throwaway PKI made with the openssl CLI
 * in a temp dir (nothing committed), and clients that call the server with
 * given credentials.
 */
import { credentials, Metadata, type ChannelCredentials, type ServiceError } from "@grpc/grpc-js";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  TokenServiceClient,
  type ForceRefreshResponse,
  type GetTokenResponse,
  type WatchTokenResponse,
} from "../../generated/wxtoken/v1/token_service.js";
import { clientOptions } from "../../packages/client/src/client-credentials.js";
import { tempDir } from "./harness.js";

export interface KeyPair {
  cert: string;
  key: string;
}

function openssl(dir: string, ...args: string[]): void {
  execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
}

const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

/** A CA in a temp dir that issues server and client certificates. */
export class TestCa {
  readonly dir = tempDir();
  readonly cert: string;
  private readonly key: string;

  constructor(readonly name: string) {
    this.cert = join(this.dir, `${name}.crt`);
    this.key = join(this.dir, `${name}.key`);
    openssl(this.dir, "req", "-x509", ...EC, "-keyout", this.key, "-out", this.cert, "-days", "2", "-subj", `/CN=${name}`,
      "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign");
  }

  /** A leaf certificate with subject CN `cn` and the given subjectAltName entries ("DNS:x", "URI:y", "IP:z"). */
  issue(file: string, cn: string, san: string[], usage: "serverAuth" | "clientAuth"): KeyPair {
    const base = join(this.dir, file);
    // -subj separates attributes with "/": one inside the CN (a SPIFFE ID) is escaped.
    openssl(this.dir, "req", ...EC, "-keyout", `${base}.key`, "-out", `${base}.csr`, "-subj", `/CN=${cn.replaceAll("/", "\\/")}`);
    const ext = [`extendedKeyUsage=${usage}`, ...(san.length > 0 ? [`subjectAltName=${san.join(",")}`] : [])];
    writeFileSync(`${base}.ext`, ext.join("\n") + "\n");
    openssl(this.dir, "x509", "-req", "-in", `${base}.csr`, "-CA", this.cert, "-CAkey", this.key, "-out", `${base}.crt`,
      "-days", "2", "-set_serial", `0x${randomBytes(8).toString("hex")}`, "-extfile", `${base}.ext`);
    return { cert: `${base}.crt`, key: `${base}.key` };
  }

  /** Deletes the temp dir, private keys included. */
  dispose(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }

  serverCert(): KeyPair {
    return this.issue("server", "wxtoken test server", ["DNS:localhost", "IP:127.0.0.1"], "serverAuth");
  }
}

/** TLS channel credentials trusting `ca`, with a client certificate when given. */
export function tlsCredentials(ca: TestCa, client?: KeyPair): ChannelCredentials {
  return credentials.createSsl(
    readFileSync(ca.cert),
    client ? readFileSync(client.key) : null,
    client ? readFileSync(client.cert) : null,
  );
}

/** A small client over the harness's port; `apiKey` goes in every call's metadata. */
export class AuthClient {
  readonly raw: InstanceType<typeof TokenServiceClient>;

  constructor(port: number, opts: { credentials?: ChannelCredentials; apiKey?: string; tlsServerName?: string } = {}) {
    this.raw = new TokenServiceClient(`127.0.0.1:${port}`, opts.credentials ?? credentials.createInsecure(), clientOptions(opts));
  }

  getToken(appId: string, metadata = new Metadata()): Promise<GetTokenResponse> {
    return new Promise((resolve, reject) =>
      this.raw.getToken({ kind: 0, agent: "", platformId: "", appId }, metadata, { deadline: Date.now() + 5000 }, (err, res) => (err ? reject(err) : resolve(res))),
    );
  }

  forceRefresh(appId: string, staleToken: string): Promise<ForceRefreshResponse> {
    return new Promise((resolve, reject) =>
      this.raw.forceRefresh({ kind: 0, agent: "", platformId: "", appId, staleToken }, new Metadata(), { deadline: Date.now() + 5000 }, (err, res) =>
        err ? reject(err) : resolve(res),
      ),
    );
  }

  /** The first message of a WatchToken stream (then cancels it), or the stream's error. */
  firstWatchMessage(appId: string): Promise<WatchTokenResponse> {
    return new Promise((resolve, reject) => {
      const stream = this.raw.watchToken({ kind: 0, agent: "", platformId: "", appId, knownVersion: 0, knownFingerprint: "" }, { deadline: Date.now() + 5000 });
      stream.on("data", (m: WatchTokenResponse) => {
        resolve(m);
        stream.cancel();
      });
      stream.on("error", (err: ServiceError) => reject(err));
    });
  }

  close(): void {
    this.raw.close();
  }
}

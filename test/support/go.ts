/**
 * Debian's Go toolchain and grpc-go sources, for the tests that build Go in
 * GOPATH mode (test/interop/go-client.test.ts, test/interop/recipe-silenceper.test.ts): what
 * is missing, with the packages that provide it.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const INSTALL_HINT =
  "apt-get install -y golang-go golang-google-grpc-dev golang-google-protobuf-dev golang-github-golang-protobuf-1-5-dev protoc-gen-go protoc-gen-go-grpc protobuf-compiler golang-google-genproto-dev";
const GOCODE = "/usr/share/gocode/src";
// Sources the builds need. golang/protobuf's proto/registry.go exists only
// from 1.4 on (the APIv2 wrapper): with Debian's 1.3 package decoding panics.
const REQUIRED_FILES = [
  `${GOCODE}/google.golang.org/grpc/server.go`,
  `${GOCODE}/google.golang.org/protobuf/proto/decode.go`,
  `${GOCODE}/github.com/golang/protobuf/proto/registry.go`,
  `${GOCODE}/google.golang.org/genproto/googleapis/rpc/errdetails/error_details.pb.go`,
];
const REQUIRED_COMMANDS = ["go", "protoc", "protoc-gen-go", "protoc-gen-go-grpc"];

/** The Go build cache shared by every Go build of the tests: only the first compiles grpc-go. */
export const GOCACHE = process.env.GOCACHE || join(tmpdir(), "wxtoken-go-build-cache");

/** What is missing to build Go against Debian's grpc-go, or undefined when nothing is. */
export async function goToolchainMissing(): Promise<string | undefined> {
  const run = promisify(execFile);
  const missing: string[] = [];
  for (const cmd of REQUIRED_COMMANDS) {
    await run("sh", ["-c", `command -v ${cmd}`], { timeout: 10_000 }).catch(() => missing.push(cmd));
  }
  missing.push(...REQUIRED_FILES.filter((f) => !existsSync(f)));
  return missing.length ? `missing ${missing.join(", ")} (${INSTALL_HINT})` : undefined;
}

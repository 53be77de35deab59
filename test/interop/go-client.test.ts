/**
 * The contract from Go: test/go/client/main.go, built by test/go/build.sh from
 * Debian's packages alone (grpc-go 1.33, google.golang.org/protobuf 1.28 and
 * golang/protobuf 1.5 under /usr/share/gocode, GOPATH mode, stubs generated
 * from proto/ at test time into a temp GOPATH), against the real server and
 * the fake WeChat. It prints one JSON line per step; the assertions are here.
 * Without the toolchain the test is skipped locally, but fails in CI.
 *
 * The Go build cache lives under the OS temp dir (wxtoken-go-build-cache), so
 * only the first build on a machine compiles grpc-go: measured at about 26 s
 * of CPU cold (37-55 s wall on two cores shared with other load), 5-8 s warm.
 * Hence the build's own budget in beforeAll; running the client takes ~1 s.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { GOCACHE, goToolchainMissing } from "../support/go.js";
import { APP, Harness } from "../support/harness.js";

const run = promisify(execFile);
const BUILD_SCRIPT = fileURLToPath(new URL("../go/build.sh", import.meta.url));
const missing = await goToolchainMissing();
const inCI = Boolean(process.env.CI) && !/^(0|false)$/i.test(process.env.CI ?? "");
if (missing && !inCI) console.warn(`skipping the Go client test: ${missing}`);

interface Line {
  step: string;
  [field: string]: unknown;
}

let work: string | undefined;
let binary: string | undefined;
let buildError: Error | undefined;
let h: Harness | undefined;

afterEach(async () => {
  await h?.stop();
  h = undefined;
});
afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe.skipIf(missing !== undefined && !inCI)("a Go grpc-go client built from Debian's packages", () => {
  // The build (not the server) takes the time: a cold grpc-go compile on a busy machine.
  beforeAll(async () => {
    if (missing) return;
    work = mkdtempSync(join(tmpdir(), "wxtoken-go-"));
    const started = Date.now();
    try {
      await run("bash", [BUILD_SCRIPT, work], {
        env: { ...process.env, GOCACHE },
        timeout: 110_000,
      });
      binary = join(work, "bin/wxtoken-go-client");
      console.info(`go client built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    } catch (err) {
      const e = err as Error & { stdout?: string; stderr?: string };
      buildError = new Error(`test/go/build.sh failed: ${e.message}\n${e.stdout ?? ""}${e.stderr ?? ""}`);
    }
  }, 120_000);

  it("gets a token and a jsapi ticket, checks a signature, watches a rotation it forces, and reads NOT_FOUND", { timeout: 30_000 }, async () => {
    if (missing) throw new Error(`CI must run the Go client test: ${missing}`);
    if (buildError) throw buildError;
    h = await Harness.start({ apps: [{ appId: APP, secretEnv: `SECRET_${APP}`, tickets: ["jsapi"] }] });
    // Async, not execFileSync: the server answering the child runs in this process.
    const result = await run(binary!, [], {
      env: { ...process.env, WXTOKEN_ADDR: `127.0.0.1:${h.port}`, WXTOKEN_APP_ID: APP },
      timeout: 25_000,
    }).catch((err: Error & { stdout?: string; stderr?: string; code?: number }) => {
      throw new Error(`the Go client failed (exit ${err.code}):\n${err.stdout ?? ""}${err.stderr ?? ""}`);
    });
    const lines: Line[] = result.stdout.trim().split("\n").map((l) => JSON.parse(l) as Line);
    const step = (name: string): Line => {
      const found = lines.find((l) => l.step === name);
      if (!found) throw new Error(`no "${name}" line in the Go client's output:\n${result.stdout}`);
      return found;
    };
    expect(lines.map((l) => l.step)).toEqual([
      "get_token",
      "get_ticket",
      "sign",
      "watch_first",
      "force_refresh",
      "watch_rotation",
      "force_refresh_again",
      "unknown_app",
      "malformed_app",
      "done",
    ]);

    const fp = (value: string): string => createHash("sha256").update(value).digest("hex").slice(0, 8);
    const fake = h.fake;
    // The access_token, decoded intact with its lifetime (Timestamp fields).
    const token = step("get_token");
    expect(token).toMatchObject({ app_id: APP, agent: "", kind: "CREDENTIAL_KIND_ACCESS_TOKEN", version: 1 });
    expect(token.local_fingerprint).toBe(token.fingerprint);
    expect(token.obtained_at as number).toBeLessThan(token.refresh_at as number);
    expect(token.refresh_at as number).toBeLessThan(token.expires_at as number);
    expect((token.expires_at as number) - (token.obtained_at as number)).toBe(7200);

    // The jsapi ticket is the one WeChat issued, and SignJsSdk signed with it.
    const ticket = step("get_ticket");
    expect(ticket).toMatchObject({ app_id: APP, kind: "CREDENTIAL_KIND_JSAPI_TICKET" });
    expect(ticket.fingerprint).toBe(fp(fake.currentTicket(APP, "jsapi")!));
    expect(ticket.local_fingerprint).toBe(ticket.fingerprint);
    expect(step("sign")).toMatchObject({ url: "https://h5.example.com/order?id=42", ticket_fingerprint: ticket.fingerprint, signature_matches: true });

    // The watch sent the current token, then the rotation the client forced.
    const first = step("watch_first");
    const forced = step("force_refresh");
    const rotation = step("watch_rotation");
    expect(first).toMatchObject({ version: 1, fingerprint: token.fingerprint });
    expect(forced).toMatchObject({ refreshed: true, version: 2 });
    expect(forced.fingerprint).not.toBe(first.fingerprint);
    expect(rotation).toMatchObject({ version: 2, fingerprint: forced.fingerprint });
    // Compare-and-refresh: the same stale token again makes no upstream call.
    expect(step("force_refresh_again")).toMatchObject({ refreshed: false, version: 2, fingerprint: forced.fingerprint });
    const current = (await h.getToken(APP)).token!;
    expect({ version: current.version, fingerprint: current.fingerprint }).toEqual({ version: 2, fingerprint: forced.fingerprint });

    // Status codes, and the ErrorInfo reason from grpc-status-details-bin.
    expect(step("unknown_app")).toMatchObject({ code: "NotFound", reason: "UNKNOWN_APP", domain: "wxtoken" });
    expect(step("malformed_app")).toMatchObject({ code: "InvalidArgument", reason: "INVALID_APP_ID", domain: "wxtoken" });
  });
});

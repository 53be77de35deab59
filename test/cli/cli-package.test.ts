/**
 * The package as another project gets it: imported by name through its
 * exports map, and what `npm pack` puts in the tarball.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, inject, it } from "vitest";
import { copyCheckout } from "../support/build.js";
import { tempDir } from "../support/harness.js";

const run = promisify(execFile);

describe("the package", () => {
  it('can be imported by another Node service as "wxtoken" with its exports map', async () => {
    const build = inject("build");
    const dir = tempDir();
    mkdirSync(join(dir, "node_modules"));
    symlinkSync(build.root, join(dir, "node_modules", "wxtoken"), "dir");
    writeFileSync(
      join(dir, "check.mjs"),
      `import { TokenSource, TokenClient, withToken, WeChatClient, Token, TokenServiceClient } from "wxtoken";
       console.log(JSON.stringify([typeof TokenSource.create, typeof TokenClient, typeof withToken, typeof WeChatClient, typeof Token.encode, typeof TokenServiceClient]));`,
    );
    const out = await run(process.execPath, [join(dir, "check.mjs")], { cwd: dir });
    expect(JSON.parse(out.stdout)).toEqual(["function", "function", "function", "function", "function", "function"]);
    expect(existsSync(join(build.root, "dist/src/index.d.ts"))).toBe(true);
  }, 60_000);

  it("npm pack on a clean checkout builds first, and ships the library, stubs and protos but no bench or tests", async () => {
    // A checkout without dist/: the tarball's dist/ can only come from prepack.
    const checkout = tempDir();
    copyCheckout(checkout);
    const { stdout } = await run("npm", ["pack", "--dry-run", "--json", "--offline", "--loglevel=error"], { cwd: checkout });
    // prepack's own output (npm run build) comes before the JSON on stdout.
    const [packed] = JSON.parse(stdout.slice(stdout.indexOf("["))) as { files: { path: string }[] }[];
    const files = packed.files.map((f) => f.path);
    expect(files).toEqual(
      expect.arrayContaining([
        "package.json",
        "README.md",
        "dist/src/index.js",
        "dist/src/index.d.ts",
        "dist/src/cli/main.js",
        "dist/generated/wxtoken/v1/token_service.js",
        "proto/wxtoken/v1/token_service.proto",
        "config.schema.json",
      ]),
    );
    expect(files.filter((f) => f.startsWith("dist/bench/") || f.startsWith("test/") || f.startsWith("src/"))).toEqual([]);
  }, 180_000);
});

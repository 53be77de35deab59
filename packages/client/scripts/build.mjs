/**
 * Builds the package twice from one source: ESM into dist/esm, CommonJS into
 * dist/cjs (marked as CommonJS by its own package.json). No source maps: the
 * sources are not shipped, so a map could only point at nothing.
 *
 *   node scripts/build.mjs [--out DIR]   (DIR instead of ./dist: the tests build into a temp dir)
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const pkg = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const at = process.argv.indexOf("--out");
const out = at > 0 ? resolve(process.argv[at + 1]) : join(pkg, "dist");
// typescript's exports map hides bin/tsc: find the package, then its bin.
const typescript = dirname(createRequire(join(pkg, "package.json")).resolve("typescript/package.json"));
const tsc = join(typescript, "bin", "tsc");

rmSync(out, { recursive: true, force: true });
for (const [config, format] of [["tsconfig.json", "esm"], ["tsconfig.cjs.json", "cjs"]]) {
  execFileSync(process.execPath, [tsc, "-p", join(pkg, config), "--outDir", join(out, format)], { stdio: "inherit" });
}
mkdirSync(join(out, "cjs"), { recursive: true });
writeFileSync(join(out, "cjs", "package.json"), '{ "type": "commonjs" }\n');

#!/usr/bin/env node
// Fails when generated/ is not what `npm run generate` makes from proto/.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";

const tmp = mkdtempSync(join(tmpdir(), "wxtoken-gen-"));
try {
  execFileSync("npx", ["--no-install", "buf", "generate", "-o", tmp], { stdio: "inherit" });
  const list = (dir) =>
    readdirSync(dir).flatMap((name) => {
      const path = join(dir, name);
      return statSync(path).isDirectory() ? list(path) : [path];
    });
  const fresh = new Map(list(join(tmp, "generated")).map((p) => [relative(join(tmp, "generated"), p), p]));
  const committed = new Map(list("generated").map((p) => [relative("generated", p), p]));
  const problems = [];
  for (const [name, path] of fresh) {
    if (!committed.has(name)) problems.push(`missing: generated/${name}`);
    else if (!readFileSync(path).equals(readFileSync(committed.get(name)))) problems.push(`stale: generated/${name}`);
  }
  for (const name of committed.keys()) if (!fresh.has(name)) problems.push(`extra: generated/${name}`);
  if (problems.length > 0) {
    console.error(`generated/ does not match proto/ (run \`npm run generate\` and commit):\n  ${problems.join("\n  ")}`);
    process.exit(1);
  }
  console.log("generated/ is up to date with proto/");
} finally {
  rmSync(tmp, { recursive: true, force: true });
}

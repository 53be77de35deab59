/**
 * The package compiled once per test run into a temp dir (vitest globalSetup,
 * below), before any test file starts: the CLI tests run it from there, so
 * they never see a half-written dist/ (the working tree's or each other's).
 */
import { execFile } from "node:child_process";
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { promisify } from "node:util";
import type { TestProject } from "vitest/node";

const run = promisify(execFile);

export interface Build {
  /** A package root: package.json, dist/, node_modules/@wxtoken/client built, the rest linked to the project's. */
  root: string;
  /** dist/src/cli/main.js in it. */
  cli: string;
}

declare module "vitest" {
  export interface ProvidedContext {
    build: Build;
  }
}

/**
 * Compiles the project into a fresh temp package (a few seconds): the client
 * package first, into node_modules/@wxtoken/client of the temp package (the
 * server imports it by name), then the server against that build. The other
 * dependencies are links to the project's.
 */
export async function buildPackage(): Promise<Build> {
  const root = mkdtempSync(join(tmpdir(), "wxtoken-build-"));
  const project = process.cwd();
  copyFileSync(join(project, "package.json"), join(root, "package.json"));
  linkDependencies(project, root);
  const client = join(root, "node_modules/@wxtoken/client");
  mkdirSync(client, { recursive: true });
  copyFileSync(join(project, "packages/client/package.json"), join(client, "package.json"));
  await run(process.execPath, [join(project, "packages/client/scripts/build.mjs"), "--out", join(client, "dist")]);
  // The server's build resolves @wxtoken/client to the types just built, not to the working tree's.
  const tsconfig = join(root, "tsconfig.json");
  writeFileSync(
    tsconfig,
    JSON.stringify({
      extends: join(project, "tsconfig.json"),
      compilerOptions: { rootDir: project, outDir: join(root, "dist"), paths: { "@wxtoken/client": [join(client, "dist/esm/src/index.d.ts")] } },
      include: ["src", "generated", "bench"].map((dir) => join(project, dir)),
    }),
  );
  await run(join(project, "node_modules/.bin/tsc"), ["-p", tsconfig]);
  return { root, cli: join(root, "dist/src/cli/main.js") };
}

/**
 * Gives root a node_modules of links to the project's dependencies, all but
 * the workspace's own @wxtoken/client (the project's link to it would lead
 * back to the working tree's packages/client): the caller puts that in.
 */
export function linkDependencies(project: string, root: string): void {
  mkdirSync(join(root, "node_modules/@wxtoken"), { recursive: true });
  for (const entry of readdirSync(join(project, "node_modules"))) {
    if (entry !== "@wxtoken") symlinkSync(join(project, "node_modules", entry), join(root, "node_modules", entry));
  }
}

/**
 * Copies the working tree into `to` as a clean checkout has it (no dist/, no
 * history; packages/client/generated stays a link), with the dependencies
 * linked and the workspace's client linked to the copy's own.
 */
export function copyCheckout(to: string): void {
  const project = process.cwd();
  const skip = new Set(["dist", "node_modules", ".git"]);
  for (const entry of readdirSync(project)) {
    if (!skip.has(entry)) cpSync(join(project, entry), join(to, entry), { recursive: true, verbatimSymlinks: true, filter: (src) => !skip.has(basename(src)) });
  }
  linkDependencies(project, to);
  symlinkSync(join(to, "packages/client"), join(to, "node_modules/@wxtoken/client"), "dir");
}

export default async function setup(project: TestProject): Promise<() => void> {
  const build = await buildPackage();
  project.provide("build", build);
  return () => rmSync(build.root, { recursive: true, force: true });
}

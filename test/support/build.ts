/**
 * The package compiled once per test run into a temp dir (vitest globalSetup,
 * below), before any test file starts: the CLI tests run it from there, so
 * they never see a half-written dist/ (the working tree's or each other's).
 */
import { execFile } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { TestProject } from "vitest/node";

export interface Build {
  /** A package root: package.json, dist/, and node_modules linked to the project's. */
  root: string;
  /** dist/src/cli/main.js in it. */
  cli: string;
}

declare module "vitest" {
  export interface ProvidedContext {
    build: Build;
  }
}

/** Compiles the project into a fresh temp package (a few seconds). */
export async function buildPackage(): Promise<Build> {
  const root = mkdtempSync(join(tmpdir(), "wxtoken-build-"));
  const project = process.cwd();
  copyFileSync(join(project, "package.json"), join(root, "package.json"));
  symlinkSync(join(project, "node_modules"), join(root, "node_modules"), "dir");
  await promisify(execFile)(join(project, "node_modules/.bin/tsc"), ["-p", join(project, "tsconfig.json"), "--outDir", join(root, "dist")]);
  return { root, cli: join(root, "dist/src/cli/main.js") };
}

export default async function setup(project: TestProject): Promise<() => void> {
  const build = await buildPackage();
  project.provide("build", build);
  return () => rmSync(build.root, { recursive: true, force: true });
}

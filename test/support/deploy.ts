/**
 * What the deployment tests (test/deploy/) share: the files in
 * deploy/ read as the tools that use them read them (Kubernetes manifests as
 * YAML documents, the Dockerfile as instructions, the unit as key=value
 * lines), and a config from them checked by the real `wxtoken check-config`
 * with its secrets stood in for by placeholders.
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { expect } from "vitest";
import { parseAllDocuments } from "yaml";
import type { Cli } from "./cli.js";
import { tempDir } from "./harness.js";

/** A parsed manifest or config: loosely typed on purpose, since the tests check its shape. */
export type Manifest = Record<string, any>;

/**
 * Every YAML document of every file in dir, with the file it came from. Read
 * as YAML 1.1, as Kubernetes reads manifests (go-yaml): `defaultMode: 0440` is
 * octal there, and 440 under YAML 1.2.
 */
export function manifests(dir: string): (Manifest & { file: string })[] {
  const out: (Manifest & { file: string })[] = [];
  for (const file of readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort()) {
    for (const doc of parseAllDocuments(readFileSync(join(dir, file), "utf8"), { version: "1.1" })) {
      expect(doc.errors, `${file}: ${doc.errors.join("; ")}`).toEqual([]);
      const value = doc.toJS() as Manifest | null;
      if (value !== null) out.push({ ...value, file });
    }
  }
  return out;
}

/** One Dockerfile instruction: its stage (the FROM's AS name, or its index), keyword and arguments. */
export interface Instruction {
  stage: string;
  keyword: string;
  args: string;
}

/** The Dockerfile's instructions, comments dropped and continuation lines joined. */
export function dockerfile(path: string): Instruction[] {
  const joined = readFileSync(path, "utf8")
    .split("\n")
    .filter((line) => !/^\s*#/.test(line))
    .join("\n")
    .replace(/\\\n/g, " ");
  const out: Instruction[] = [];
  let stage = "";
  let stages = 0;
  for (const line of joined.split("\n").map((l) => l.trim()).filter(Boolean)) {
    const [, keyword, args] = /^(\S+)\s*(.*)$/.exec(line)!;
    const upper = keyword!.toUpperCase();
    if (upper === "FROM") stage = /\sAS\s+(\S+)/i.exec(args!)?.[1] ?? String(stages++);
    out.push({ stage, keyword: upper, args: args! });
  }
  return out;
}

/** A systemd unit's settings by section, each key with every value it was given, in order. */
export function unitFile(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const section = /^\[(.+)\]$/.exec(line);
    if (section) {
      current = new Map();
      sections.set(section[1]!, current);
      continue;
    }
    const eq = line.indexOf("=");
    const key = line.slice(0, eq);
    current!.set(key, [...(current!.get(key) ?? []), line.slice(eq + 1)]);
  }
  return sections;
}

/** The port of a listen address ("0.0.0.0:50051", ":9464", "[::]:8080"). */
export function portOf(address: string): number {
  return Number(address.slice(address.lastIndexOf(":") + 1));
}

/**
 * A deployed config made checkable here: each secretFile (a path only the
 * deployment has, e.g. a mounted Secret) becomes a temp file with a
 * placeholder, after `secretFileOk` has accepted it, and every environment
 * variable the config names gets a placeholder value.
 */
export function standIns(config: Manifest, secretFileOk: (path: string) => void): { config: Manifest; env: Record<string, string> } {
  const dir = tempDir();
  const env: Record<string, string> = {};
  const copy = JSON.parse(JSON.stringify(config)) as Manifest;
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (node === null || typeof node !== "object") return;
    const o = node as Manifest;
    for (const [key, value] of Object.entries(o)) {
      if (/File$/.test(key) && /secret|password|token|aeskey/i.test(key) && typeof value === "string") {
        secretFileOk(value);
        const local = join(dir, `${basename(value)}-${Object.keys(env).length}-${key}`);
        writeFileSync(local, "placeholder-not-a-secret\n", { mode: 0o600 });
        o[key] = local;
      } else if (/Env$/.test(key) && typeof value === "string") {
        env[value] = "placeholder-not-a-secret";
      } else {
        visit(value);
      }
    }
  };
  visit(copy);
  return { config: copy, env };
}

/** `wxtoken check-config` on a deployed config (through standIns): the summary it prints, or a failed expectation with its stderr. */
export async function checkConfig(cli: Cli, config: Manifest, secretFileOk: (path: string) => void): Promise<Manifest> {
  const local = standIns(config, secretFileOk);
  const path = join(tempDir(), "wxtoken.json");
  writeFileSync(path, JSON.stringify(local.config));
  const result = await cli.run(["check-config", path], { env: local.env });
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as Manifest;
}

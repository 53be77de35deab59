#!/usr/bin/env node
/**
 * config.schema.json, the JSON Schema editors check a config file against
 * (`"$schema": "./node_modules/wxtoken/config.schema.json"`), generated from
 * the zod config schema with zod's own z.toJSONSchema. It describes what
 * people write (io "input": keys with a default may be left out), and each
 * key carries the doc comment the configuration reference shows
 * (scripts/config-doc.mjs). zod's refinements (exactly one secret source,
 * address forms, the security checks) are not expressible in it: the server
 * still checks those at load.
 *
 *   npm run schema:config                   rewrite config.schema.json
 *   node scripts/config-schema.mjs --check  exit 1 if it is stale
 *
 * The schema is imported from dist/ (npm run schema:config builds first);
 * test/config/config-schema.test.ts imports renderSchema() with the schema from src/.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { FALLBACK, VARIANTS, readComments } from "./config-doc.mjs";

export const SCHEMA_FILE = "config.schema.json";

/** The JSON Schema (as the text written to SCHEMA_FILE) of configSchema, with the doc comments in the source under root. */
export function renderSchema(configSchema, root) {
  const comments = readComments(root);
  const schema = z.toJSONSchema(configSchema, { io: "input", target: "draft-2020-12" });
  allowUntypedApps(schema);
  const described = describeNode(schema, "", undefined, comments);
  const { $schema, ...rest } = described;
  const out = {
    $schema,
    title: "wxtoken configuration",
    description: "The config file of wxtoken serve (docs/configuration.md). Unknown keys are errors.",
    ...rest,
  };
  return `${JSON.stringify(out, null, 2)}\n`;
}

/**
 * apps[] entries without a type are Official Accounts (a z.preprocess adds the
 * type before the discriminated union sees it); toJSONSchema describes the
 * union alone, which would require the type.
 */
function allowUntypedApps(schema) {
  const official = schema.properties?.apps?.items?.oneOf?.find((o) => o.properties?.type?.const === "official");
  if (!official?.required?.includes("type")) throw new Error("config-schema: apps[] no longer has an official variant requiring type: revisit allowUntypedApps");
  official.required = official.required.filter((k) => k !== "type");
}

/** A copy of node with a description on every key the reference describes (path as in the reference: "apps[].tickets"). */
function describeNode(node, path, variant, comments) {
  if (typeof node !== "object" || node === null) return node;
  const out = { ...node };
  if (node.properties) {
    out.properties = {};
    for (const [key, child] of Object.entries(node.properties)) {
      const p = path ? `${path}.${key}` : key;
      // A variant's discriminator: its source comment describes one variant only.
      const isDiscriminator = variant !== undefined && key === "type";
      const text = (isDiscriminator ? FALLBACK[p] : undefined) ?? comments.get(`${p}|${variant ?? ""}`) ?? comments.get(`${p}|`) ?? FALLBACK[p];
      const c = describeNode(child, p, variant, comments);
      out.properties[key] = text === undefined ? c : { description: text, ...c };
    }
  }
  if (node.items) out.items = describeNode(node.items, `${path}[]`, variant, comments);
  for (const k of ["oneOf", "anyOf"]) {
    if (!node[k]) continue;
    out[k] = node[k].map((alt) => {
      const value = alt.properties?.type?.const;
      const a = describeNode(alt, path, value ?? variant, comments);
      const caption = value === undefined ? undefined : VARIANTS[`${path}:${value}`];
      return caption === undefined ? a : { description: caption, ...a };
    });
  }
  return out;
}

async function main() {
  const root = join(dirname(fileURLToPath(import.meta.url)), "..");
  const { configSchema } = await import(join(root, "dist/src/config/schema.js"));
  const path = join(root, SCHEMA_FILE);
  let current = "";
  try {
    current = readFileSync(path, "utf8");
  } catch {}
  const next = renderSchema(configSchema, root);
  if (process.argv.includes("--check")) {
    if (next !== current) {
      console.error(`${SCHEMA_FILE} is stale: run npm run schema:config`);
      process.exit(1);
    }
    console.log(`${SCHEMA_FILE} is up to date`);
  } else if (next !== current) {
    writeFileSync(path, next);
    console.log(`${SCHEMA_FILE}: regenerated`);
  } else console.log(`${SCHEMA_FILE}: already up to date`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();

/**
 * docs/configuration.md against the config schema: the generated reference
 * is exactly what `npm run docs:config` makes from the schema today, and,
 * checked independently of the generator through zod's own JSON Schema,
 * every key of the schema is documented with its default and every
 * documented key exists.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { configSchema } from "../../src/config/schema.js";
import { BEGIN, DOC, END, readComments, renderReference } from "../../scripts/config-doc.mjs";

const doc = readFileSync(DOC, "utf8");
const block = doc.slice(doc.indexOf(BEGIN), doc.indexOf(END) + END.length);

/** The reference tables' rows: key -> the default cells it is documented with (a key of two variants has two). */
function documented(): Map<string, string[]> {
  const rows = new Map<string, string[]>();
  for (const line of block.split("\n")) {
    const m = /^\| `([^`]+)` \| .*? \| (.*?) \| .* \|$/.exec(line);
    if (!m) continue;
    rows.set(m[1]!, [...(rows.get(m[1]!) ?? []), m[2]!]);
  }
  return rows;
}

interface JsonNode {
  properties?: Record<string, JsonNode>;
  items?: JsonNode;
  oneOf?: JsonNode[];
  anyOf?: JsonNode[];
  allOf?: JsonNode[];
  default?: unknown;
  $ref?: string;
}

/** Every key path of the schema ("store.tls.caFile", "apps[].tickets") with the defaults it has. */
function schemaKeys(): Map<string, unknown[]> {
  const root = z.toJSONSchema(configSchema, { io: "output", unrepresentable: "any" }) as JsonNode & { $defs?: Record<string, JsonNode> };
  const keys = new Map<string, unknown[]>();
  const resolve = (n: JsonNode): JsonNode => (n.$ref ? resolve(root.$defs![n.$ref.replace("#/$defs/", "")]!) : n);
  const walk = (node: JsonNode, path: string) => {
    const n = resolve(node);
    for (const [key, child] of Object.entries(n.properties ?? {})) {
      const p = path ? `${path}.${key}` : key;
      const c = resolve(child);
      keys.set(p, [...(keys.get(p) ?? []), ...(c.default !== undefined ? [c.default] : [])]);
      walk(c, p);
    }
    for (const alt of [...(n.oneOf ?? []), ...(n.anyOf ?? []), ...(n.allOf ?? [])]) walk(alt, path);
    if (n.items) walk(n.items, `${path}[]`);
  };
  walk(root, "");
  return keys;
}

describe("docs/configuration.md", () => {
  it("holds the reference `npm run docs:config` generates from the schema", () => {
    expect(doc).toContain(BEGIN);
    expect(doc).toContain(END);
    // On a failure here: run `npm run docs:config` and commit docs/configuration.md.
    expect(block).toBe(renderReference(configSchema, process.cwd()));
  });

  it("documents every key of the schema, with its default", () => {
    const rows = documented();
    const keys = schemaKeys();
    expect(keys.size).toBeGreaterThan(50);
    const missing = [...keys.keys()].filter((k) => !rows.has(k));
    expect(missing, "keys in the schema but not in the doc").toEqual([]);
    const wrongDefaults = [...keys].flatMap(([key, defaults]) =>
      defaults.filter((d) => !rows.get(key)!.includes(`\`${JSON.stringify(d)}\``)).map((d) => `${key}: default ${JSON.stringify(d)}, doc says ${rows.get(key)!.join(" / ")}`),
    );
    expect(wrongDefaults).toEqual([]);
  });

  it("documents no key the schema lacks", () => {
    const keys = schemaKeys();
    const extra = [...documented().keys()].filter((k) => !keys.has(k));
    expect(extra, "keys in the doc but not in the schema").toEqual([]);
  });

  it("reads each doc comment of the schema source onto a key the schema has", () => {
    const keys = schemaKeys();
    // A constant's own comment on an array element ("apps[]") describes no key.
    const paths = [...readComments(process.cwd()).keys()].map((k) => k.split("|")[0]!).filter((p) => !p.endsWith("[]"));
    expect(paths.length).toBeGreaterThan(40);
    expect(paths.filter((p) => !keys.has(p))).toEqual([]);
  });
});

/**
 * config.schema.json, the JSON Schema editors check config files against: it
 * is what `npm run schema:config` makes from the zod schema today, it ships
 * in the package under wxtoken/config.schema.json, a config naming it with
 * `$schema` loads, and (checked with test/support/json-schema.ts) it accepts
 * the example configs of the docs and refuses unknown keys and wrong types,
 * as the server does.
 */
import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { configSchema } from "../../src/config/schema.js";
import { loadConfigFile, parseConfig } from "../../src/config/load.js";
import { renderSchema, SCHEMA_FILE } from "../../scripts/config-schema.mjs";
import { APP, Harness, SECRETS, tempDir } from "../support/harness.js";
import { validate } from "../support/json-schema.js";

type Node = Record<string, any>;
const text = readFileSync(SCHEMA_FILE, "utf8");
const schema = JSON.parse(text) as Node;

/** Every ```json block of the README and docs/ that is a config (or a part of one: only top-level config keys), placeholders filled in. */
function docConfigs(): { where: string; config: Node }[] {
  const found: { where: string; config: Node }[] = [];
  for (const file of ["README.md", "examples/README.md", ...readdirSync("docs").map((f) => `docs/${f}`)]) {
    if (!file.endsWith(".md")) continue;
    for (const [i, m] of [...readFileSync(file, "utf8").matchAll(/```json\n([\s\S]*?)```/g)].entries()) {
      // "<wxtoken hash-key>" stands for a key hash, "[ … ]" for entries shown elsewhere (a part, then).
      const filled = m[1]!.replace(/"<[^"]*>"/g, JSON.stringify("0".repeat(64))).replaceAll("[ … ]", "[]");
      let value: unknown;
      try {
        value = JSON.parse(filled);
      } catch {
        continue;
      }
      if (typeof value !== "object" || value === null || Array.isArray(value)) continue;
      if (!Object.keys(value).every((k) => k in schema.properties)) continue;
      found.push({ where: `${file} block ${i + 1}`, config: value as Node });
    }
  }
  return found;
}

const appEntry = { appId: "wx1234567890abcdef", secretEnv: "WX_SECRET" };

describe("config.schema.json", () => {
  it("is what `npm run schema:config` makes from the schema today", () => {
    // On a failure here: run `npm run schema:config` (or docs:config) and commit config.schema.json.
    expect(text).toBe(renderSchema(configSchema, process.cwd()));
  });

  it("describes what people write: unknown keys refused, defaults optional, apps[] entries without a type, the store variants", () => {
    expect(schema.$schema).toBe("https://json-schema.org/draft/2020-12/schema");
    expect(schema.type).toBe("object");
    expect(schema.additionalProperties).toBe(false);
    expect(schema.required).toBeUndefined();
    expect(schema.properties.$schema).toMatchObject({ type: "string" });
    expect(schema.properties.listen).toMatchObject({ type: "string", default: "127.0.0.1:50051" });
    expect(schema.properties.store.default).toEqual({ type: "sqlite" });
    const stores = schema.properties.store.oneOf as Node[];
    expect(stores.map((s) => s.properties.type.const)).toEqual(["sqlite", "file", "memory", "redis"]);
    for (const s of stores) expect(s).toMatchObject({ type: "object", additionalProperties: false, required: ["type"] });
    const apps = schema.properties.apps.items.oneOf as Node[];
    expect(apps.map((a) => [a.properties.type.const, a.required])).toEqual([
      ["official", ["appId"]],
      ["wecom", ["type", "corpId", "agent"]],
    ]);
  });

  it("carries the reference's description on every key, and no secret value", () => {
    const undescribed: string[] = [];
    const withDefault: string[] = [];
    const walk = (node: Node, path: string) => {
      for (const [key, child] of Object.entries((node.properties ?? {}) as Record<string, Node>)) {
        const p = path ? `${path}.${key}` : key;
        if (typeof child.description !== "string" || child.description.length < 10) undescribed.push(p);
        if (/secret|password|token$|aeskey$/i.test(key) && child.default !== undefined) withDefault.push(p);
        walk(child, p);
      }
      if (node.items) walk(node.items, `${path}[]`);
      for (const alt of [...(node.oneOf ?? []), ...(node.anyOf ?? [])]) walk(alt, path);
    };
    walk(schema, "");
    expect(undescribed).toEqual([]);
    expect(withDefault).toEqual([]);
    // The redis variant's own comment is not taken for every variant's type.
    for (const s of schema.properties.store.oneOf as Node[]) expect(s.properties.type.description).toMatch(/^"sqlite" \(the default\)/);
  });

  it("accepts the example configs of the README and docs/, as the server does", () => {
    const examples = docConfigs();
    expect(examples.length).toBeGreaterThanOrEqual(5);
    for (const { where, config } of examples) {
      expect(validate(schema, config), where).toEqual([]);
      // Whole configs (with apps or an Open Platform) the server takes too; parts pass only the key checks.
      if (config.apps?.length > 0 || config.openPlatform !== undefined) {
        expect(configSchema.safeParse(config).error?.issues ?? [], where).toEqual([]);
      }
    }
  });

  it("refuses an unknown key or a wrong type, as the server does", () => {
    const bad: [string, Node][] = [
      ["unknown top-level key", { apps: [appEntry], lisen: "127.0.0.1:1" }],
      ["unknown key in a section", { apps: [appEntry], refresh: { marginSecond: 60 } }],
      ["unknown key in an app", { apps: [{ ...appEntry, appid: "x" }] }],
      ["unknown key in a store variant", { apps: [appEntry], store: { type: "file", url: "redis://x" } }],
      ["unknown store type", { apps: [appEntry], store: { type: "s3" } }],
      ["listen as a number", { apps: [appEntry], listen: 50051 }],
      ["apps as an object", { apps: appEntry }],
      ["a fractional integer", { apps: [appEntry], shutdownGraceMs: 1.5 }],
      ["a zero positive number", { apps: [appEntry], refresh: { marginSeconds: 0 } }],
      ["a wecom entry without its agent", { apps: [{ type: "wecom", corpId: "ww1234567890abcdef", secretEnv: "S" }] }],
      ["a ticket outside the enum", { apps: [{ ...appEntry, tickets: ["agent_config"] }] }],
      ["$schema as a number", { $schema: 1, apps: [appEntry] }],
    ];
    for (const [what, config] of bad) {
      expect(validate(schema, config), what).not.toEqual([]);
      expect(configSchema.safeParse(config).success, what).toBe(false);
    }
    const good: Node = { $schema: "./node_modules/wxtoken/config.schema.json", apps: [appEntry, { type: "wecom", corpId: "ww1234567890abcdef", agent: "1000002", secretEnv: "S" }] };
    expect(validate(schema, good)).toEqual([]);
    expect(configSchema.safeParse(good).success).toBe(true);
  });

  it("lets a config that names it with $schema load", () => {
    const dir = tempDir();
    const file = join(dir, "wxtoken.json");
    writeFileSync(file, JSON.stringify({ $schema: "./node_modules/wxtoken/config.schema.json", store: { type: "memory" }, apps: [appEntry] }));
    const loaded = loadConfigFile(file, { WX_SECRET: "s3cret-value" });
    expect(loaded.apps.map((a) => a.type === "official" && a.appId)).toEqual(["wx1234567890abcdef"]);
    expect(loaded.warnings).toEqual([]);
  });

  it("is no change to restart for when a reload adds or changes $schema", async () => {
    const h = await Harness.start();
    try {
      const result = h.server.reload(
        parseConfig({ $schema: "./node_modules/wxtoken/config.schema.json", listen: "127.0.0.1:0", store: { type: "memory" }, apps: [{ appId: APP, secret: SECRETS[APP]! }], shutdownGraceMs: 2000 }),
      );
      expect(result.needsRestart).not.toContain("$schema");
    } finally {
      await h.stop();
    }
  });

  it("is exported as wxtoken/config.schema.json and listed in the package's files", () => {
    const pkg = JSON.parse(readFileSync("package.json", "utf8")) as { exports: Record<string, unknown>; files: string[] };
    expect(pkg.files).toContain(SCHEMA_FILE);
    const project = tempDir();
    mkdirSync(join(project, "node_modules"));
    symlinkSync(process.cwd(), join(project, "node_modules", "wxtoken"), "dir");
    const resolved = createRequire(join(project, "index.js")).resolve("wxtoken/config.schema.json");
    expect(readFileSync(resolved, "utf8")).toBe(text);
  });
});

#!/usr/bin/env node
/**
 * The configuration reference in docs/configuration.md, generated from the
 * config schema: every key, its type and default come from walking the zod
 * schema (src/config/schema.ts, src/auth/schema.ts, src/config/watches.ts); its description is the
 * JSDoc comment on the key in those files. A key without a comment must get
 * one (or, for the few keys whose comment lives elsewhere, an entry in
 * FALLBACK below): generation fails rather than leave a key undescribed.
 *
 *   npm run docs:config          rewrite the block between the markers
 *   node scripts/config-doc.mjs --check   exit 1 if the doc is stale
 *
 * The schema is imported from dist/ (npm run docs:config builds first);
 * test/docs/docs-config.test.ts imports renderReference() with the schema from src/.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const DOC = "docs/configuration.md";
export const BEGIN = "<!-- BEGIN GENERATED: config reference (npm run docs:config; do not edit by hand) -->";
export const END = "<!-- END GENERATED: config reference -->";

/** Which constant of which source file describes which part of the schema. */
const ROOTS = {
  "src/config/schema.ts": {
    configSchema: { prefix: [] },
    store: { prefix: ["store"] },
    sqliteStore: { prefix: ["store"], variant: "sqlite" },
    fileStore: { prefix: ["store"], variant: "file" },
    officialApp: { prefix: ["apps[]"], variant: "official" },
    wecomApp: { prefix: ["apps[]"], variant: "wecom" },
    secretSource: { prefix: ["apps[]"] },
    jsSdk: [{ prefix: ["apps[]", "jsSdk"] }, { prefix: ["wecomProviders", "suites[]", "jsSdk"] }],
    platform: { prefix: ["openPlatform", "platforms[]"] },
    // Shared by both pushed-ticket families: each key documented under each.
    pushKeySources: [{ prefix: ["openPlatform", "platforms[]"] }, { prefix: ["wecomProviders", "suites[]"] }],
    receiver: [{ prefix: ["openPlatform", "receiver"] }, { prefix: ["wecomProviders", "receiver"] }],
    wecomSuite: { prefix: ["wecomProviders", "suites[]"] },
    wecomProvider: { prefix: ["wecomProviders", "provider"] },
    connections: { prefix: ["connections"] },
  },
  "src/auth/schema.ts": {
    client: { prefix: ["auth", "clients[]"] },
    tlsSchema: { prefix: ["tls"] },
  },
  "src/config/watches.ts": {
    watches: { prefix: ["watches"] },
  },
};

/** Keys whose comment is not on the key itself (sections, discriminators, keys sharing a comment). */
export const FALLBACK = {
  upstream: "Where WeChat and WeCom are reached, and how long a request may take.",
  "upstream.baseUrl": "WeChat API base for Official Accounts and Mini Programs (a proxy or the fake): http:// or https://, a path prefix allowed, no query, fragment or user:password@.",
  "upstream.connectTimeoutMs": "TCP (and TLS) connect timeout of an upstream request, in ms.",
  "upstream.timeoutMs": "Whole-request timeout of an upstream request (body included), in ms.",
  store: "Where credentials (and the quota counts) are kept across restarts: see the variants below.",
  "store.type": '"sqlite" (the default): a database on disk, one row per record; "file": a JSON snapshot on disk; "memory": nothing survives a restart; "redis": shared by several replicas.',
  "store.sentinelPasswordEnv": "With sentinels: the environment variable holding the password the sentinels themselves require, if any.",
  refresh: "When credentials are refreshed, and how failed attempts are retried.",
  "refresh.retryMaxSeconds": "Cap of the transient-failure backoff.",
  apps: "The credentials to hold: one entry per Official Account / Mini Program, and one per WeCom secret (corp and agent).",
  "apps[].type": '"official" (Official Account / Mini Program; the default, so entries written before WeCom support are unchanged) or "wecom".',
  log: "Logging: JSON lines on stderr (pino).",
  "log.level": "Least level logged; silent logs nothing.",
  "metrics.listen": "Address of the metrics HTTP port: host:port, [ipv6]:port, or :port for all interfaces.",
  "auth.clients": "The clients that may call, each with how it proves who it is and what it may do.",
  "openPlatform.platforms[].secretEnv": "Name of the environment variable that holds the component_appsecret (preferred). Exactly one of secretEnv, secretFile, secret.",
  "openPlatform.platforms[].secretFile": "Path of a file that holds the component_appsecret, relative to the config file.",
  "openPlatform.platforms[].secret": "The component_appsecret itself (warned about: config files get copied and committed).",
  "wecomProviders.suites[].secretEnv": "Name of the environment variable that holds the suite secret (preferred). Exactly one of secretEnv, secretFile, secret.",
  "wecomProviders.suites[].secretFile": "Path of a file that holds the suite secret, relative to the config file.",
  "wecomProviders.suites[].secret": "The suite secret itself (warned about: config files get copied and committed).",
  "wecomProviders.provider.secretEnv": "Name of the environment variable that holds the provider_secret (preferred). Exactly one of secretEnv, secretFile, secret.",
  "wecomProviders.provider.secretFile": "Path of a file that holds the provider_secret, relative to the config file.",
  "wecomProviders.provider.secret": "The provider_secret itself (warned about: config files get copied and committed).",
};

/** Captions of the variants of a discriminated union (keyed "path:value"). */
export const VARIANTS = {
  "store:sqlite":
    "The default. A SQLite database, loaded at start so a restart serves a still-valid credential with no upstream call; each change writes its own rows, so it costs the same with 20 accounts or 100,000 (docs/operations.md#the-local-store).",
  "store:file": "A JSON snapshot, loaded at start so a restart serves a still-valid credential with no upstream call. Each change rewrites the whole file: fine for a few hundred credentials; the sqlite store imports it.",
  "store:memory": "Nothing survives a restart.",
  "store:redis": "Several replicas share one refresh lock, one value and one quota count per credential (docs/replicas.md).",
  "apps[]:official": "An Official Account or Mini Program (entries without a type).",
  "apps[]:wecom": "One secret of a WeCom (企业微信) corp: a self-built app (agent) or a built-in app.",
};

/** Defaults the schema applies where a walk cannot see them (the apps entries' preprocess). */
const DEFAULT_OVERRIDES = { "apps[].type": '`"official"`' };

// ---------------------------------------------------------------------------
// JSDoc comments on keys, from the TypeScript source (a small scanner: strings,
// template literals, regular expressions and comments are skipped, brackets
// counted, so each `key:` is known by the keys and constants around it).

/** Map of "path|variant" (variant "" for any) to the comment's text, from one source file. */
export function extractComments(source, roots) {
  const found = new Map();
  const frames = [{ label: null, pending: null, kind: "top" }];
  let doc = null;
  let lastSig = "";
  let lastWord = "";
  let i = 0;
  const n = source.length;
  const top = () => frames[frames.length - 1];
  const record = (labels, text) => {
    const [root, ...rest] = labels;
    const wheres = roots[root];
    if (!wheres) return;
    // A constant used in several places (a shared fragment) documents each.
    for (const where of Array.isArray(wheres) ? wheres : [wheres]) {
      const path = [...where.prefix, ...rest].join(".").replaceAll(".[]", "[]");
      const key = `${path}|${where.variant ?? ""}`;
      if (!found.has(key)) found.set(key, text);
    }
  };
  const labels = () => frames.map((f) => f.label).filter((l) => l !== null);
  const skipString = (quote) => {
    i++;
    while (i < n && source[i] !== quote) {
      if (source[i] === "\\") i++;
      else if (quote === "`" && source[i] === "$" && source[i + 1] === "{") {
        i += 2;
        let depth = 1;
        while (i < n && depth > 0) {
          if (source[i] === "{") depth++;
          else if (source[i] === "}") depth--;
          else if (source[i] === '"' || source[i] === "'" || source[i] === "`") skipString(source[i]);
          if (depth > 0) i++;
        }
      }
      i++;
    }
    i++;
  };
  while (i < n) {
    const c = source[i];
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === "/" && source[i + 1] === "/") {
      while (i < n && source[i] !== "\n") i++;
      continue;
    }
    if (c === "/" && source[i + 1] === "*") {
      const end = source.indexOf("*/", i + 2);
      const body = source.slice(i + 2, end);
      if (body.startsWith("*")) doc = cleanDoc(body.slice(1));
      i = end + 2;
      continue;
    }
    if (c === '"' || c === "'" || c === "`") {
      skipString(c);
      lastSig = "s";
      doc = null;
      continue;
    }
    if (c === "/" && (lastSig === "" || "(,=:[!&|?{};".includes(lastSig) || lastWord === "return")) {
      // A regular expression literal.
      i++;
      let inClass = false;
      while (i < n && (source[i] !== "/" || inClass)) {
        if (source[i] === "\\") i++;
        else if (source[i] === "[") inClass = true;
        else if (source[i] === "]") inClass = false;
        i++;
      }
      i++;
      while (/[a-z]/.test(source[i] ?? "")) i++;
      lastSig = "r";
      doc = null;
      continue;
    }
    if (/[A-Za-z_$]/.test(c)) {
      let j = i;
      while (j < n && /[\w$]/.test(source[j])) j++;
      const word = source.slice(i, j);
      i = j;
      let k = i;
      while (k < n && /\s/.test(source[k])) k++;
      if (word === "export" || word === "const") {
        lastWord = word;
        continue;
      }
      if (lastWord === "const" && source[k] === "=") {
        // `const name =`: a constant's own comment describes its root.
        top().pending = word;
        if (doc && frames.length === 1) record([word], doc);
      } else if (top().kind === "{" && source[k] === ":" && source[k + 1] !== ":" && (lastSig === "{" || lastSig === ",")) {
        // `key:` in an object literal.
        top().pending = word;
        if (doc) record([...labels(), word], doc);
      }
      lastWord = word;
      lastSig = "w";
      doc = null;
      continue;
    }
    if (c === "(" || c === "{" || c === "[") {
      frames.push({ label: top().pending, pending: null, kind: c });
    } else if (c === ")" || c === "}" || c === "]") {
      if (frames.length > 1) frames.pop();
    } else if (c === "," || c === ";") {
      top().pending = null;
    }
    lastSig = c;
    lastWord = "";
    doc = null;
    i++;
  }
  return found;
}

function cleanDoc(body) {
  return body
    .split("\n")
    .map((line) => line.replace(/^\s*\*?\s?/, "").trim())
    .join(" ")
    .replace(/\s+/g, " ")
    .trim();
}

/** Every key's comment, from the source files under root. */
export function readComments(root) {
  const all = new Map();
  for (const [file, roots] of Object.entries(ROOTS)) {
    for (const [k, v] of extractComments(readFileSync(join(root, file), "utf8"), roots)) all.set(k, v);
  }
  return all;
}

// ---------------------------------------------------------------------------
// The schema walk (zod 4 internals: schema._zod.def).

const def = (s) => s._zod.def;

/** Wrappers peeled: what the key accepts, its default (rendered), whether it may be left out. */
function unwrap(schema) {
  let s = schema;
  let dflt;
  let optional = false;
  for (;;) {
    const d = def(s);
    if (d.type === "default" || d.type === "prefault") {
      if (dflt === undefined) dflt = d.defaultValue;
      s = d.innerType;
    } else if (d.type === "optional") {
      optional = true;
      s = d.innerType;
    } else if (d.type === "pipe") {
      // A preprocess (transform -> schema) is described by its output; a
      // transform after a check by its input.
      s = def(d.in).type === "transform" ? d.out : d.in;
    } else break;
  }
  return { schema: s, default: dflt, optional };
}

function numberRange(checks = []) {
  const parts = [];
  let integer = false;
  for (const c of checks) {
    const d = c._zod.def;
    if (d.check === "number_format" && (d.format === "safeint" || d.format === "int32")) integer = true;
    else if (d.check === "greater_than") parts.push(`${d.inclusive ? "≥" : ">"} ${d.value}`);
    else if (d.check === "less_than") parts.push(`${d.inclusive ? "≤" : "<"} ${d.value}`);
  }
  return `${integer ? "integer" : "number"}${parts.length ? ` ${parts.join(", ")}` : ""}`;
}

function typeOf(schema) {
  const { schema: s } = unwrap(schema);
  const d = def(s);
  switch (d.type) {
    case "string":
    case "boolean":
      return d.type;
    case "number":
      return numberRange(d.checks ?? s._zod.def.checks);
    case "enum":
      return Object.values(d.entries).map((v) => JSON.stringify(v)).join(" \\| ");
    case "literal":
      return d.values.map((v) => JSON.stringify(v)).join(" \\| ");
    case "array": {
      const inner = typeOf(d.element);
      return inner.includes("|") ? `(${inner})[]` : `${inner}[]`;
    }
    case "union": {
      const options = [...new Set(d.options.map(typeOf))];
      return options.join(" \\| ");
    }
    case "object":
      return "object";
    default:
      return d.type;
  }
}

function renderDefault(u, path) {
  if (DEFAULT_OVERRIDES[path]) return DEFAULT_OVERRIDES[path];
  if (u.default !== undefined) return `\`${JSON.stringify(u.default)}\``;
  return u.optional ? "absent" : "**required**";
}

/** Objects inside a key (itself, or its array's element): [path suffix, object schema]. */
function nested(schema) {
  const { schema: s, default: dflt } = unwrap(schema);
  const d = def(s);
  if (d.type === "object" || (d.type === "union" && d.discriminator)) return { suffix: "", schema: s, default: dflt };
  if (d.type === "array") {
    const inner = unwrap(d.element).schema;
    const t = def(inner).type;
    if (t === "object" || (t === "union" && def(inner).discriminator)) return { suffix: "[]", schema: inner };
  }
  return undefined;
}

/**
 * The rows of one object, flattened (`a.b.c`), in schema order. A
 * discriminated union gets a row for its discriminator and a table per variant.
 */
function objectRows(schema, path, comments, variant, out, tables, parentDefault) {
  const d = def(schema);
  if (d.type === "union" && d.discriminator) {
    const disc = d.discriminator;
    const values = d.options.map((o) => def(def(o).shape[disc]).values[0]);
    const discPath = [...path, disc].join(".").replaceAll(".[]", "[]");
    // The discriminator's default is the one its section defaults to, if any.
    const discDefault = parentDefault?.[disc] !== undefined ? `\`${JSON.stringify(parentDefault[disc])}\`` : undefined;
    out.push({ path: discPath, type: values.map((v) => JSON.stringify(v)).join(" \\| "), default: discDefault, variant, discriminator: true });
    for (const option of d.options) {
      const value = def(def(option).shape[disc]).values[0];
      const rows = [];
      objectRows(option, path, comments, value, rows, tables);
      const base = path.join(".").replaceAll(".[]", "[]");
      tables.push({ caption: `${base} with "${disc}": "${value}"`, note: VARIANTS[`${base}:${value}`], rows: rows.filter((r) => r.path !== discPath) });
    }
    return;
  }
  for (const [key, value] of Object.entries(d.shape)) {
    const keyPath = [...path, key];
    const p = keyPath.join(".").replaceAll(".[]", "[]");
    const u = unwrap(value);
    out.push({ path: p, type: typeOf(value), default: renderDefault(u, p), variant });
    const inner = nested(value);
    if (inner) objectRows(inner.schema, inner.suffix ? [...keyPath, "[]"] : keyPath, comments, variant, out, tables, inner.default);
  }
}

function describe(row, comments) {
  // A discriminator's comment in the source describes one variant only.
  if (row.discriminator && FALLBACK[row.path]) return FALLBACK[row.path];
  const text = comments.get(`${row.path}|${row.variant ?? ""}`) ?? comments.get(`${row.path}|`) ?? FALLBACK[row.path];
  if (text === undefined) throw new Error(`config key ${row.path} has no doc comment: add /** ... */ above it in the schema`);
  return text;
}

const cell = (text) => text.replaceAll("|", "\\|").replaceAll("\n", " ");

function table(rows, comments) {
  const lines = ["| key | type | default | meaning |", "|---|---|---|---|"];
  for (const r of rows) {
    const dflt = r.default ?? DEFAULT_OVERRIDES[r.path] ?? "**required**";
    lines.push(`| \`${r.path}\` | ${r.type} | ${dflt} | ${cell(describe(r, comments))} |`);
  }
  return lines.join("\n");
}

/** The generated block (markers included), from the config schema and the comments in the source under root. */
export function renderReference(configSchema, root) {
  const comments = readComments(root);
  const topRows = [];
  const sections = [];
  for (const [key, value] of Object.entries(def(configSchema).shape)) {
    const u = unwrap(value);
    topRows.push({ path: key, type: typeOf(value), default: renderDefault(u, key) });
    const inner = nested(value);
    if (!inner) continue;
    const rows = [];
    const tables = [];
    objectRows(inner.schema, inner.suffix ? [key, "[]"] : [key], comments, undefined, rows, tables, inner.default);
    sections.push({ key, rows, tables });
  }
  const parts = [BEGIN, "", "### Top level", "", table(topRows, comments)];
  for (const s of sections) {
    parts.push("", `### ${s.key}`, "");
    if (s.rows.length > 0) parts.push(table(s.rows, comments));
    for (const t of s.tables) {
      parts.push("", `**\`${t.caption}\`**${t.note ? `: ${t.note}` : ""}`, "");
      parts.push(t.rows.length > 0 ? table(t.rows, comments) : "No other keys.");
    }
  }
  parts.push("", END);
  return parts.join("\n");
}

/** The doc with its generated block replaced. */
export function withReference(doc, block) {
  const start = doc.indexOf(BEGIN);
  const end = doc.indexOf(END);
  if (start < 0 || end < start) throw new Error(`${DOC} has no ${BEGIN} ... ${END} block`);
  return doc.slice(0, start) + block + doc.slice(end + END.length);
}

async function main() {
  const root = join(dirname(fileURLToPath(import.meta.url)), "..");
  const { configSchema } = await import(join(root, "dist/src/config/schema.js"));
  const path = join(root, DOC);
  const doc = readFileSync(path, "utf8");
  const next = withReference(doc, renderReference(configSchema, root));
  if (process.argv.includes("--check")) {
    if (next !== doc) {
      console.error(`${DOC} is stale: run npm run docs:config`);
      process.exit(1);
    }
    console.log(`${DOC} is up to date`);
  } else if (next !== doc) {
    writeFileSync(path, next);
    console.log(`${DOC}: reference regenerated`);
  } else console.log(`${DOC}: already up to date`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();

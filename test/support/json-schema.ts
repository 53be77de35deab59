/**
 * A JSON Schema (2020-12) check of the keywords config.schema.json uses, no
 * more: the project has no validator dependency, and the tests want to know
 * that a config an editor accepts is one the schema describes. A keyword it
 * does not know is an error rather than silently ignored, so a schema that
 * starts using one fails the test instead of passing unchecked.
 */
type Schema = Record<string, unknown>;

const ANNOTATIONS = new Set(["$schema", "title", "description", "default"]);
const KNOWN = new Set([
  ...ANNOTATIONS,
  "type",
  "properties",
  "additionalProperties",
  "required",
  "enum",
  "const",
  "items",
  "minItems",
  "minLength",
  "maxLength",
  "minimum",
  "maximum",
  "exclusiveMinimum",
  "pattern",
  "oneOf",
  "anyOf",
]);

function typeOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  return typeof value;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** The problems of value against schema, each as "path: what"; empty when it validates. */
export function validate(schema: Schema, value: unknown, path = "$"): string[] {
  const problems: string[] = [];
  for (const key of Object.keys(schema)) if (!KNOWN.has(key)) throw new Error(`json-schema check: unsupported keyword ${key} at ${path}`);
  if (schema.additionalProperties !== undefined && schema.additionalProperties !== false) throw new Error(`json-schema check: additionalProperties other than false at ${path}`);
  const t = typeOf(value);
  if (schema.type !== undefined && !(schema.type === t || (schema.type === "number" && t === "integer"))) {
    return [`${path}: expected ${String(schema.type)}, got ${t}`];
  }
  if (schema.const !== undefined && !same(schema.const, value)) problems.push(`${path}: expected ${JSON.stringify(schema.const)}`);
  if (Array.isArray(schema.enum) && !schema.enum.some((e) => same(e, value))) problems.push(`${path}: not one of ${JSON.stringify(schema.enum)}`);
  if (typeof value === "string") {
    if (typeof schema.minLength === "number" && [...value].length < schema.minLength) problems.push(`${path}: shorter than ${schema.minLength}`);
    if (typeof schema.maxLength === "number" && [...value].length > schema.maxLength) problems.push(`${path}: longer than ${schema.maxLength}`);
    if (typeof schema.pattern === "string" && !new RegExp(schema.pattern, "u").test(value)) problems.push(`${path}: does not match ${schema.pattern}`);
  }
  if (typeof value === "number") {
    if (typeof schema.minimum === "number" && value < schema.minimum) problems.push(`${path}: under ${schema.minimum}`);
    if (typeof schema.maximum === "number" && value > schema.maximum) problems.push(`${path}: over ${schema.maximum}`);
    if (typeof schema.exclusiveMinimum === "number" && value <= schema.exclusiveMinimum) problems.push(`${path}: not over ${schema.exclusiveMinimum}`);
  }
  if (Array.isArray(value)) {
    if (typeof schema.minItems === "number" && value.length < schema.minItems) problems.push(`${path}: fewer than ${schema.minItems} items`);
    if (schema.items) value.forEach((v, i) => problems.push(...validate(schema.items as Schema, v, `${path}[${i}]`)));
  }
  if (t === "object") {
    const object = value as Record<string, unknown>;
    const properties = (schema.properties ?? {}) as Record<string, Schema>;
    for (const key of (schema.required ?? []) as string[]) if (!(key in object)) problems.push(`${path}: ${key} is required`);
    for (const [key, v] of Object.entries(object)) {
      if (properties[key]) problems.push(...validate(properties[key], v, `${path}.${key}`));
      else if (schema.additionalProperties === false) problems.push(`${path}: unknown key ${key}`);
    }
  }
  if (Array.isArray(schema.oneOf)) {
    const passing = (schema.oneOf as Schema[]).filter((s) => validate(s, value, path).length === 0).length;
    if (passing !== 1) problems.push(`${path}: matches ${passing} of the oneOf alternatives, not exactly one`);
  }
  if (Array.isArray(schema.anyOf) && !(schema.anyOf as Schema[]).some((s) => validate(s, value, path).length === 0)) {
    problems.push(`${path}: matches none of the anyOf alternatives`);
  }
  return problems;
}

/** Types of scripts/config-schema.mjs, for the tests (test/config/config-schema.test.ts). */
export declare const SCHEMA_FILE: string;
/** The JSON Schema text (as written to SCHEMA_FILE) of the config schema, described from the source under root. */
export declare function renderSchema(configSchema: unknown, root: string): string;

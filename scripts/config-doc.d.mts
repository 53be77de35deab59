/** Types of scripts/config-doc.mjs, for the tests (test/docs/docs-config.test.ts). */
export declare const DOC: string;
export declare const BEGIN: string;
export declare const END: string;
/** "path|variant" -> the JSDoc comment on that key in the schema source. */
export declare function extractComments(source: string, roots: Record<string, { prefix: string[]; variant?: string }>): Map<string, string>;
export declare function readComments(root: string): Map<string, string>;
/** The generated block, markers included. */
export declare function renderReference(configSchema: unknown, root: string): string;
/** The doc with its generated block replaced. */
export declare function withReference(doc: string, block: string): string;

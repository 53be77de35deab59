/**
 * What the Open Platform family acts on (the configured entry itself is the
 * config's: src/config/platforms.ts).
 */

/** The InfoTypes an Open Platform acts on (docs/openplatform.md); any other is answered `success` and not handled. */
export const KNOWN_INFO_TYPES: ReadonlySet<string> = new Set(["component_verify_ticket", "authorized", "updateauthorized", "unauthorized"]);

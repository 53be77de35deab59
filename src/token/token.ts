import { fingerprint } from "../fingerprint.js";
import type { StoredToken } from "../store/store.js";

/** One token of one app, as the server holds it. Times are ms since the epoch. */
export interface TokenRecord {
  readonly appId: string;
  readonly accessToken: string;
  readonly version: number;
  readonly obtainedAt: number;
  readonly expiresAt: number;
  readonly refreshAt: number;
  readonly fingerprint: string;
}

export function makeRecord(fields: Omit<TokenRecord, "fingerprint">): TokenRecord {
  return Object.freeze({ ...fields, fingerprint: fingerprint(fields.accessToken) });
}

/** What a store keeps of a record (the refresh time is planned again on load). */
export function toStored(t: TokenRecord): StoredToken {
  return { appId: t.appId, accessToken: t.accessToken, version: t.version, obtainedAt: t.obtainedAt, expiresAt: t.expiresAt };
}

/** For logs (the logger already names the app): never the token itself. */
export function describeToken(t: TokenRecord): Record<string, unknown> {
  return {
    version: t.version,
    token: t.fingerprint,
    expiresAt: new Date(t.expiresAt).toISOString(),
    refreshAt: new Date(t.refreshAt).toISOString(),
  };
}

import { createHash } from "node:crypto";

/** A short, non-reversible id of a token for logs: the first 8 hex digits of its SHA-256. */
export function fingerprint(token: string): string {
  return createHash("sha256").update(token).digest("hex").slice(0, 8);
}

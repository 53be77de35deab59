/**
 * API keys: random, high-entropy strings that a client sends as
 * `authorization: Bearer <key>`. The server keeps only their sha256: a fast
 * hash is enough because the keys are 256 random bits, so there is nothing to
 * guess or to look up in a dictionary (a slow hash protects low-entropy
 * passwords, which these are not).
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { UnauthenticatedError } from "../errors.js";

/** Prefix of generated keys, so secret scanners and people can recognise one. */
const API_KEY_PREFIX = "wxt_";

/** Below this length a key given to `hash-key` is called out as guessable. */
export const MIN_KEY_LENGTH = 32;

/** A new key: the prefix and 32 random bytes, base64url. */
export function generateApiKey(): string {
  return API_KEY_PREFIX + randomBytes(32).toString("base64url");
}

/** The value for `apiKeySha256` in the config. */
export function hashApiKey(key: string): string {
  return sha256(key).toString("hex");
}

function sha256(key: string): Buffer {
  return createHash("sha256").update(key, "utf8").digest();
}

const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;
const MAX_HEADER_LENGTH = 1024;

/**
 * The key in the call's `authorization` metadata value, undefined when there
 * is none. Throws UnauthenticatedError for anything else; the message never
 * repeats what was sent (it may be a key).
 */
export function bearerKey(value: string | Buffer | undefined): string | undefined {
  if (value === undefined) return undefined;
  const match = typeof value === "string" && value.length <= MAX_HEADER_LENGTH ? BEARER.exec(value) : null;
  if (!match?.[1]) throw new UnauthenticatedError('malformed authorization metadata: expected "Bearer <api key>"');
  return match[1];
}

/** Finds which entry's hash the key has, comparing with every entry in constant time. */
export class ApiKeyTable<T> {
  private readonly entries: { hash: Buffer; value: T }[] = [];

  add(sha256Hex: string, value: T): void {
    this.entries.push({ hash: Buffer.from(sha256Hex, "hex"), value });
  }

  get size(): number {
    return this.entries.length;
  }

  find(key: string): T | undefined {
    const presented = sha256(key);
    let found: T | undefined;
    // No early exit: every call does the same work whichever entry matches.
    for (const e of this.entries) {
      if (timingSafeEqual(e.hash, presented) && found === undefined) found = e.value;
    }
    return found;
  }
}

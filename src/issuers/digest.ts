import { createHash } from "node:crypto";
import type { Secret } from "../secret.js";

/** An issuer's `source`: changes with what it fetches with, reveals nothing of the secret. */
export function sourceDigest(secret: Secret, ...parts: string[]): string {
  return createHash("sha256").update(JSON.stringify([secret.reveal(), ...parts])).digest("hex");
}

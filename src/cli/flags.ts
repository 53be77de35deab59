/**
 * Numeric command-line flags, checked before any command runs: Number() would
 * turn "10s" into NaN, which grpc-js takes as a deadline and a server as a port.
 */

/** A mistake on the command line: main prints it with the usage and exits 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

interface IntegerFlag {
  min: number;
  max?: number;
  /** What a valid value is, for the message. */
  expected: string;
}

export const INTEGER_FLAGS = {
  timeout: { min: 1, expected: "a positive number of milliseconds" },
  "known-version": { min: 0, expected: "a version number (0 or more)" },
  repeat: { min: 1, expected: "a positive whole number" },
  interval: { min: 0, expected: "a number of milliseconds (0 or more)" },
  port: { min: 0, max: 65_535, expected: "a port number (0-65535)" },
  "expires-in": { min: 1, expected: "a positive number of seconds" },
  "page-size": { min: 1, expected: "a positive whole number (the server takes at most 1000)" },
} satisfies Record<string, IntegerFlag>;

export type IntegerFlagName = keyof typeof INTEGER_FLAGS;

/** Each flag given, as a number; an absent one stays undefined. Throws UsageError naming the first bad one. */
export function integerFlags(values: Partial<Record<IntegerFlagName, string>>): Partial<Record<IntegerFlagName, number>> {
  const out: Partial<Record<IntegerFlagName, number>> = {};
  for (const [name, spec] of Object.entries(INTEGER_FLAGS) as [IntegerFlagName, IntegerFlag][]) {
    const raw = values[name];
    if (raw === undefined) continue;
    // Digits only: Number() would also take "", " 1", "1e3", "0x10" and "Infinity".
    const n = /^\d+$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isSafeInteger(n) || n < spec.min || (spec.max !== undefined && n > spec.max)) {
      throw new UsageError(`--${name} must be ${spec.expected}, got "${raw.slice(0, 40)}"`);
    }
    out[name] = n;
  }
  return out;
}

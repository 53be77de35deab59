/** A stored JSON value, or undefined when it is absent, not JSON or not what `valid` accepts (every store reads records so). */
export function parsed<T>(text: string | null | undefined, valid: (v: unknown) => T | undefined): T | undefined {
  if (text === null || text === undefined) return undefined;
  try {
    return valid(JSON.parse(text));
  } catch {
    return undefined;
  }
}

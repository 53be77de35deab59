/**
 * The lookup kinds.ts and states.ts share: a table's row by any of its
 * spellings, where a number (the wire, proto3 JSON) may also come as a
 * decimal string of one.
 */
export function spellingLookup<Row>(
  rows: readonly Row[],
  spellingsOf: (row: Row) => readonly (string | number)[],
  extra: readonly (readonly [string | number, Row])[] = [],
): (spelling: unknown) => Row | undefined {
  const by = new Map<string | number, Row>(extra);
  for (const row of rows) for (const spelling of spellingsOf(row)) by.set(spelling, row);
  return (spelling) => {
    if (typeof spelling === "number") return by.get(spelling);
    if (typeof spelling !== "string") return undefined;
    return by.get(/^\d{1,3}$/.test(spelling) ? Number(spelling) : spelling);
  };
}

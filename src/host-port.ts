/**
 * "host:port", "[v6]:port" or ":port", split into its parts (brackets
 * removed, an empty host as ""), or undefined when it is none of these. The
 * config checks these addresses and the metrics endpoint binds them: one
 * reading for both.
 */
export function splitHostPort(address: string): { host: string; port: number; bracketed: boolean } | undefined {
  const m = /^(?:\[([^\]]*)\]|([^:[\]]*)):(\d{1,5})$/.exec(address);
  if (!m) return undefined;
  return { host: m[1] ?? m[2] ?? "", port: Number(m[3]), bracketed: m[1] !== undefined };
}

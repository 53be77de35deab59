/**
 * The credential kinds, in one table: every spelling of a kind that any part
 * of wxtoken accepts (client options, the CLI's --kind, the config's tickets,
 * the HTTP API's ?kind= and JSON bodies, the gRPC enum), and which one each
 * part prints. The server imports it from here too, so the two ends cannot
 * drift apart.
 *
 *   short         the CLI's --kind and the config's tickets ("jsapi")
 *   name          the client library, logs and metrics ("jsapi_ticket")
 *   enumName      the proto enum, and what the HTTP API answers ("CREDENTIAL_KIND_JSAPI_TICKET")
 *   number        the proto enum on the wire (proto3 JSON accepts it too)
 */
import { CredentialKind } from "../generated/wxtoken/v1/token_service.js";
import { spellingLookup } from "./spellings.js";

export interface KindSpellings<Name extends string = string> {
  readonly short: string;
  readonly name: Name;
  readonly enumName: string;
  readonly number: CredentialKind;
}

export const CREDENTIAL_KIND_TABLE = [
  { short: "token", name: "access_token", enumName: "CREDENTIAL_KIND_ACCESS_TOKEN", number: CredentialKind.CREDENTIAL_KIND_ACCESS_TOKEN },
  { short: "jsapi", name: "jsapi_ticket", enumName: "CREDENTIAL_KIND_JSAPI_TICKET", number: CredentialKind.CREDENTIAL_KIND_JSAPI_TICKET },
  { short: "wx_card", name: "wx_card_ticket", enumName: "CREDENTIAL_KIND_WX_CARD_TICKET", number: CredentialKind.CREDENTIAL_KIND_WX_CARD_TICKET },
  { short: "agent_config", name: "agent_config_ticket", enumName: "CREDENTIAL_KIND_AGENT_CONFIG_TICKET", number: CredentialKind.CREDENTIAL_KIND_AGENT_CONFIG_TICKET },
] as const satisfies readonly KindSpellings[];

type Row = (typeof CREDENTIAL_KIND_TABLE)[number];

/** A kind by the name the client library, logs and metrics use. */
export type CredentialKindName = Row["name"];
/** A kind as the CLI and the config name it. */
export type CredentialKindShortName = Row["short"];
/** Any spelling of a kind: short, long, the enum's name or the enum itself. */
export type CredentialKindSpelling = Row["short"] | Row["name"] | Row["enumName"] | CredentialKind;

/** Every kind's long name, in the enum's order. */
export const CREDENTIAL_KIND_NAMES: readonly CredentialKindName[] = CREDENTIAL_KIND_TABLE.map((k) => k.name);

// Unset on the wire (0, "CREDENTIAL_KIND_UNSPECIFIED") is the access_token, as the proto says.
const lookup = spellingLookup<Row>(CREDENTIAL_KIND_TABLE, (row) => [row.short, row.name, row.enumName, row.number], [
  [CredentialKind.CREDENTIAL_KIND_UNSPECIFIED, CREDENTIAL_KIND_TABLE[0]],
  ["CREDENTIAL_KIND_UNSPECIFIED", CREDENTIAL_KIND_TABLE[0]],
]);

/** The valid values, for an error message: "token (access_token, CREDENTIAL_KIND_ACCESS_TOKEN, 1), jsapi (...), ...". */
export const CREDENTIAL_KIND_HELP = CREDENTIAL_KIND_TABLE.map((k) => `${k.short} (${k.name}, ${k.enumName}, ${k.number})`).join(", ");

/** The kind any spelling names (a number as the wire or proto3 JSON has it, or a decimal string of one); undefined if none. */
export function kindOf(spelling: unknown): KindSpellings<CredentialKindName> | undefined {
  return lookup(spelling);
}

/** A kind no spelling of which matches: thrown by the clients at once, before any call. */
export class InvalidKindError extends TypeError {
  override readonly name = "InvalidKindError";
  /** Stable, for code that branches on it (the server's ErrorInfo reason for the same mistake). */
  readonly code = "INVALID_KIND";
  constructor(readonly kind: unknown) {
    super(`unknown credential kind ${JSON.stringify(String(kind)).slice(0, 60)}; valid kinds: ${CREDENTIAL_KIND_HELP}`);
  }
}

/** The kind's long name; unset is the access_token; anything else throws InvalidKindError. */
export function credentialKindName(spelling: CredentialKindSpelling | undefined): CredentialKindName {
  if (spelling === undefined) return "access_token";
  const row = kindOf(spelling);
  if (!row) throw new InvalidKindError(spelling);
  return row.name;
}

const BY_NAME = new Map<string, KindSpellings<CredentialKindName>>(CREDENTIAL_KIND_TABLE.map((k) => [k.name, k]));

/** The table's row of a kind named by its long name. */
export function kindSpellings(name: CredentialKindName): KindSpellings<CredentialKindName> {
  return BY_NAME.get(name)!;
}

/** The kind as the wire carries it (the proto enum); unset is the access_token; anything else throws InvalidKindError. */
export function credentialKindNumber(spelling: CredentialKindSpelling | undefined): CredentialKind {
  return kindSpellings(credentialKindName(spelling)).number;
}

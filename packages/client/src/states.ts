/**
 * The credential states (ListCredentials' state and state_filter), in one
 * table, as kinds.ts has the kinds: every spelling any part of wxtoken
 * accepts (the client's listCredentials, the CLI's --state, the HTTP API's
 * and the status page's ?state_filter=, the gRPC enum), and which one each
 * part prints. Exact, as kinds are: "OK" is not a spelling.
 *
 *   name          the client library, the CLI and the counts ("down")
 *   enumName      the proto enum, and what the HTTP API answers ("CREDENTIAL_STATE_DOWN")
 *   number        the proto enum on the wire (proto3 JSON accepts it too)
 */
import { CredentialState } from "../generated/wxtoken/v1/token_service.js";
import { spellingLookup } from "./spellings.js";

export interface StateSpellings<Name extends string = string> {
  readonly name: Name;
  readonly enumName: string;
  readonly number: CredentialState;
}

export const CREDENTIAL_STATE_TABLE = [
  { name: "ok", enumName: "CREDENTIAL_STATE_OK", number: CredentialState.CREDENTIAL_STATE_OK },
  { name: "failing", enumName: "CREDENTIAL_STATE_FAILING", number: CredentialState.CREDENTIAL_STATE_FAILING },
  { name: "down", enumName: "CREDENTIAL_STATE_DOWN", number: CredentialState.CREDENTIAL_STATE_DOWN },
  { name: "idle", enumName: "CREDENTIAL_STATE_IDLE", number: CredentialState.CREDENTIAL_STATE_IDLE },
] as const satisfies readonly StateSpellings[];

type Row = (typeof CREDENTIAL_STATE_TABLE)[number];

/** A state by the name the client library and the CLI use. */
export type CredentialStateName = Row["name"];
/** Any spelling of a state: its name, the enum's name or the enum itself. */
export type CredentialStateSpelling = Row["name"] | Row["enumName"] | CredentialState;

/** Every state's name, in the enum's order. */
export const CREDENTIAL_STATE_NAMES: readonly CredentialStateName[] = CREDENTIAL_STATE_TABLE.map((s) => s.name);

const lookup = spellingLookup<Row>(CREDENTIAL_STATE_TABLE, (row) => [row.name, row.enumName, row.number]);

/** The valid values, for an error message: "ok (CREDENTIAL_STATE_OK, 1), failing (...), ...". */
export const CREDENTIAL_STATE_HELP = CREDENTIAL_STATE_TABLE.map((s) => `${s.name} (${s.enumName}, ${s.number})`).join(", ");

/** The state any spelling names (a number as the wire or proto3 JSON has it, or a decimal string of one); undefined if none (unset too). */
export function stateSpellingsOf(spelling: unknown): StateSpellings<CredentialStateName> | undefined {
  return lookup(spelling);
}

/** A state no spelling of which matches: thrown by the client at once, before any call. */
export class InvalidStateError extends TypeError {
  override readonly name = "InvalidStateError";
  /** Stable, for code that branches on it (the server's ErrorInfo reason for the same mistake). */
  readonly code = "INVALID_STATE_FILTER";
  constructor(readonly state: unknown) {
    super(`unknown credential state ${JSON.stringify(String(state)).slice(0, 60)}; valid states: ${CREDENTIAL_STATE_HELP}`);
  }
}

/** The state as the wire carries it (the proto enum); anything unknown throws InvalidStateError. */
export function credentialStateNumber(spelling: CredentialStateSpelling): CredentialState {
  const row = stateSpellingsOf(spelling);
  if (!row) throw new InvalidStateError(spelling);
  return row.number;
}

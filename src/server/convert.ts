/** Between the engine's records and kinds and the contract's messages and enums. */
import { CredentialKind, type Token } from "../../generated/wxtoken/v1/token_service.js";
import type { CredentialKind as Kind, CredentialRecord } from "../core/credential.js";

const TO_PROTO: Record<Kind, CredentialKind> = {
  access_token: CredentialKind.CREDENTIAL_KIND_ACCESS_TOKEN,
  jsapi_ticket: CredentialKind.CREDENTIAL_KIND_JSAPI_TICKET,
  wx_card_ticket: CredentialKind.CREDENTIAL_KIND_WX_CARD_TICKET,
  agent_config_ticket: CredentialKind.CREDENTIAL_KIND_AGENT_CONFIG_TICKET,
};

const FROM_PROTO = new Map<number, Kind>([
  [CredentialKind.CREDENTIAL_KIND_UNSPECIFIED, "access_token"],
  ...Object.entries(TO_PROTO).map(([k, v]) => [v, k as Kind] as const),
]);

/** The kind a request names (unset: the access_token); undefined for a value this server does not know. */
export function kindFromProto(kind: CredentialKind | number | undefined): Kind | undefined {
  return FROM_PROTO.get(kind ?? 0);
}

export function kindToProto(kind: Kind): CredentialKind {
  return TO_PROTO[kind];
}

export function toProtoToken(t: CredentialRecord): Token {
  return {
    appId: t.id.appId,
    accessToken: t.value,
    version: t.version,
    obtainedAt: new Date(t.obtainedAt),
    expiresAt: new Date(t.expiresAt),
    refreshAt: new Date(t.refreshAt),
    fingerprint: t.fingerprint,
    kind: TO_PROTO[t.id.kind],
    agent: t.id.agent ?? "",
  };
}

/** Between the engine's records and kinds and the contract's messages and enums. */
import {
  AuthorizerStatus,
  CredentialKind,
  type ListAuthorizersResponse,
  type SyncAuthorizersResponse,
  type Token,
} from "../../generated/wxtoken/v1/token_service.js";
import type { PlatformView, SyncView } from "../api/platforms.js";
import type { CredentialKind as Kind, CredentialRecord } from "../core/credential.js";
import type { AuthorizerStatus as AuthorizerStatusName } from "../openplatform/store.js";

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

const STATUS_TO_PROTO = {
  active: AuthorizerStatus.AUTHORIZER_STATUS_ACTIVE,
  needs_reauthorization: AuthorizerStatus.AUTHORIZER_STATUS_NEEDS_REAUTHORIZATION,
} as const;

const STATUS_FILTERS = new Map<number, AuthorizerStatusName | undefined>([
  [AuthorizerStatus.AUTHORIZER_STATUS_UNSPECIFIED, undefined],
  [AuthorizerStatus.AUTHORIZER_STATUS_ACTIVE, "active"],
  [AuthorizerStatus.AUTHORIZER_STATUS_NEEDS_REAUTHORIZATION, "needs_reauthorization"],
]);

/** ListAuthorizers' status_filter: undefined (unset) for every status, null for a value this server does not know. */
export function statusFilterFromProto(status: AuthorizerStatus | number | undefined): AuthorizerStatusName | undefined | null {
  const n = status ?? 0;
  return STATUS_FILTERS.has(n) ? STATUS_FILTERS.get(n) : null;
}

const at = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms));

export function toProtoPlatform(p: PlatformView): ListAuthorizersResponse {
  return {
    componentAppId: p.componentAppId,
    verifyTicketReceivedAt: at(p.ticket?.receivedAt),
    verifyTicketExpiresAt: at(p.ticket?.expiresAt),
    componentTokenVersion: p.componentToken?.version ?? 0,
    componentTokenFingerprint: p.componentToken?.fingerprint ?? "",
    componentTokenExpiresAt: at(p.componentToken?.expiresAt),
    authorizers: p.authorizers.map((a) => ({
      appId: a.appId,
      status: STATUS_TO_PROTO[a.status],
      authorizedAt: at(a.authorizedAt),
      tokenVersion: a.token?.version ?? 0,
      tokenFingerprint: a.token?.fingerprint ?? "",
      tokenExpiresAt: at(a.token?.expiresAt),
      lastErrorReason: a.lastErrorReason ?? "",
    })),
    nextPageToken: p.nextPageToken,
    totalSize: p.totalSize,
  };
}

export function toProtoSync(s: SyncView): SyncAuthorizersResponse {
  return { restored: s.restored, updated: s.updated, unchanged: s.unchanged, missing: s.missing, platform: toProtoPlatform(s.platform) };
}

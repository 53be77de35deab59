/** Between the engine's records and kinds and the contract's messages and enums. */
import {
  AuthorizerStatus,
  type AuthorizeByCodeResponse,
  CredentialKind,
  CredentialState,
  SignatureKind,
  type ListAuthorizersResponse,
  type ListCredentialsRequest,
  type ListCredentialsResponse,
  type SignJsSdkResponse,
  type SyncAuthorizersResponse,
  type Token,
} from "../../generated/wxtoken/v1/token_service.js";
import { kindOf, kindSpellings, stateSpellingsOf } from "@wxtoken/client";
import type { PlatformView, SyncView } from "../api/platforms.js";
import type { AuthorizedView } from "../api/token-api.js";
import type { Signed } from "../core/signer.js";
import type { CredentialListArgs, CredentialListView } from "../api/credentials.js";
import type { CredentialStateName } from "../core/credential-index.js";
import type { CredentialKind as Kind, CredentialRecord } from "../core/credential-id.js";
import type { AuthorizerStatus as AuthorizerStatusName } from "../platform/store.js";

/** The kind a request names (unset: the access_token); undefined for a value this server does not know. */
export function kindFromProto(kind: CredentialKind | number | undefined): Kind | undefined {
  return kindOf(kind ?? CredentialKind.CREDENTIAL_KIND_UNSPECIFIED)?.name;
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
    kind: kindSpellings(t.id.kind).number,
    agent: t.id.agent ?? "",
    platformId: t.id.platform ?? "",
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

export function toProtoAuthorized(a: AuthorizedView): AuthorizeByCodeResponse {
  return { platformId: a.platformId, appId: a.appId, authorizedAt: new Date(a.authorizedAt) };
}

const SIGNATURE_TO_PROTO: Record<Signed["kind"], SignatureKind> = {
  config: SignatureKind.SIGNATURE_KIND_CONFIG,
  agent_config: SignatureKind.SIGNATURE_KIND_AGENT_CONFIG,
  card: SignatureKind.SIGNATURE_KIND_CARD,
};

/** SignJsSdk's answer: the signer's fields, its kind as the enum, its platform as platform_id. */
export function toProtoSigned(s: Signed): SignJsSdkResponse {
  return {
    appId: s.appId,
    agent: s.agent,
    timestamp: s.timestamp,
    nonceStr: s.nonceStr,
    signature: s.signature,
    url: s.url,
    kind: SIGNATURE_TO_PROTO[s.kind],
    ticketVersion: s.ticketVersion,
    ticketFingerprint: s.ticketFingerprint,
    platformId: s.platform,
  };
}

export function toProtoSync(s: SyncView): SyncAuthorizersResponse {
  return { restored: s.restored, updated: s.updated, unchanged: s.unchanged, missing: s.missing, platform: toProtoPlatform(s.platform) };
}

/** ListCredentials' state_filter: undefined (unset) for every state, null for a value this server does not know. */
function stateFilterFromProto(state: CredentialState | number | undefined): CredentialStateName | undefined | null {
  if ((state ?? 0) === CredentialState.CREDENTIAL_STATE_UNSPECIFIED) return undefined;
  return stateSpellingsOf(state)?.name ?? null;
}

/** ListCredentials' kind_filter: unset is every kind (not the access_token, as elsewhere); null for a value this server does not know. */
function kindFilterFromProto(kind: CredentialKind | number | undefined): Kind | undefined | null {
  if ((kind ?? 0) === CredentialKind.CREDENTIAL_KIND_UNSPECIFIED) return undefined;
  return kindFromProto(kind) ?? null;
}

export function toProtoCredentialList(v: CredentialListView): ListCredentialsResponse {
  return {
    credentials: v.credentials.map((c) => ({
      appId: c.appId,
      agent: c.agent ?? "",
      kind: kindSpellings(c.kind).number,
      state: stateSpellingsOf(c.state)!.number,
      platform: c.platform ?? "",
      version: c.version,
      fingerprint: c.fingerprint,
      obtainedAt: at(c.obtainedAt),
      expiresAt: at(c.expiresAt),
      nextRefreshAt: at(c.nextRefreshAt),
      failingSince: at(c.failingSince),
      failedAttempts: c.failedAttempts,
      lastErrorReason: c.lastErrorReason ?? "",
      lastErrorMessage: c.lastErrorMessage ?? "",
      lastErrorCode: c.lastErrorCode ?? 0,
      quotaUsed: c.quotaUsed,
      quotaLimit: c.quotaLimit,
      refreshedBy: c.refreshedBy ?? "",
    })),
    nextPageToken: v.nextPageToken,
    totalSize: v.totalSize ?? -1,
    counts: v.counts,
    replica: v.replica,
  };
}

/** A ListCredentialsRequest (from gRPC or decoded from JSON) as TokenApi takes it. */
export function credentialListArgs(r: ListCredentialsRequest): CredentialListArgs {
  return {
    pageSize: r.pageSize,
    pageToken: r.pageToken,
    appId: r.appId,
    kind: kindFilterFromProto(r.kindFilter),
    state: stateFilterFromProto(r.stateFilter),
    search: r.search,
  };
}

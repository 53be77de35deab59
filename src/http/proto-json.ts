/**
 * The contract's answers in proto3 JSON, one shape for the HTTP API and the
 * CLI: the generated toJSON (lowerCamelCase, enums by name, timestamps as RFC
 * 3339, defaults left out), with the 64-bit integers as strings, as proto3
 * JSON has them (the stubs are generated with forceLong=number).
 */
import {
  AuthorizeByCodeResponse,
  CredentialStatus,
  ForceRefreshResponse,
  GetTokenResponse,
  ListAuthorizersResponse,
  ListCredentialsResponse,
  SignJsSdkResponse,
  SyncAuthorizersResponse,
  Token,
} from "../../generated/wxtoken/v1/token_service.js";

type Json = Record<string, unknown>;

/** A 64-bit field as a string, when set (toJSON leaves a 0 out, and so does this). */
const int64 = (json: Json, field: string, value: number) => {
  if (value !== 0) json[field] = String(value);
};

export function tokenJson(t: Token): Json {
  const json = Token.toJSON(t) as Json;
  int64(json, "version", t.version);
  return json;
}

/** GetToken's answer, and each event of a watch: `{ token }`. */
export function getTokenJson(r: GetTokenResponse): Json {
  return { ...(GetTokenResponse.toJSON(r) as Json), ...(r.token ? { token: tokenJson(r.token) } : {}) };
}

/** `{ token, refreshed }` (refreshed left out when false). */
export function forceRefreshJson(r: ForceRefreshResponse): Json {
  return { ...(ForceRefreshResponse.toJSON(r) as Json), ...(r.token ? { token: tokenJson(r.token) } : {}) };
}

export function signatureJson(s: SignJsSdkResponse): Json {
  const json = SignJsSdkResponse.toJSON(s) as Json;
  int64(json, "timestamp", s.timestamp);
  int64(json, "ticketVersion", s.ticketVersion);
  return json;
}

export function platformJson(p: ListAuthorizersResponse): Json {
  const json = ListAuthorizersResponse.toJSON(p) as Json;
  int64(json, "componentTokenVersion", p.componentTokenVersion);
  const authorizers = json["authorizers"] as Json[] | undefined;
  authorizers?.forEach((a, i) => int64(a, "tokenVersion", p.authorizers[i]!.tokenVersion));
  return json;
}

/** AuthorizeByCode's answer: the platform, the tenant's appid or corpid, when (no 64-bit field). */
export function authorizedJson(a: AuthorizeByCodeResponse): Json {
  return AuthorizeByCodeResponse.toJSON(a) as Json;
}

/** SyncAuthorizers' answer, with the platform as it stands after the sync. */
export function syncJson(s: SyncAuthorizersResponse): Json {
  return { ...(SyncAuthorizersResponse.toJSON(s) as Json), ...(s.platform ? { platform: platformJson(s.platform) } : {}) };
}

/** A credential's status (ListCredentials, `wxtoken status --json`). */
export function credentialStatusJson(c: CredentialStatus): Json {
  const json = CredentialStatus.toJSON(c) as Json;
  int64(json, "version", c.version);
  return json;
}

export function credentialListJson(r: ListCredentialsResponse): Json {
  return { ...(ListCredentialsResponse.toJSON(r) as Json), ...(r.credentials.length > 0 ? { credentials: r.credentials.map(credentialStatusJson) } : {}) };
}

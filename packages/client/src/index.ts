/**
 * @wxtoken/client: the client library for business services that take their
 * WeChat credentials from a wxtoken server, over gRPC or the HTTP/JSON API.
 * It depends only on what it runs: @grpc/grpc-js, undici and the generated
 * stubs' runtime (@bufbuild/protobuf). ESM and CommonJS.
 */
export { TokenClient, DEFAULT_CHANNEL_OPTIONS, DEFAULT_TIMEOUT_MS } from "./token-client.js";
export type {
  TokenClientOptions,
  CallOptions,
  WatchOptions,
  ForceRefreshResult,
  Which,
  SignOptions,
  SignatureKindName,
  ListAuthorizersOptions,
  AuthorizerStatusName,
  ListCredentialsOptions,
} from "./token-client.js";
export {
  CREDENTIAL_KIND_TABLE,
  CREDENTIAL_KIND_NAMES,
  CREDENTIAL_KIND_HELP,
  InvalidKindError,
  kindOf,
  kindSpellings,
  credentialKindName,
  credentialKindNumber,
} from "./kinds.js";
export type { CredentialKindName, CredentialKindShortName, CredentialKindSpelling, KindSpellings } from "./kinds.js";
export { CREDENTIAL_STATE_TABLE, CREDENTIAL_STATE_NAMES, CREDENTIAL_STATE_HELP, InvalidStateError, stateSpellingsOf, credentialStateNumber } from "./states.js";
export type { CredentialStateName, CredentialStateSpelling, StateSpellings } from "./states.js";
export { TokenSource } from "./token-source.js";
export type { TokenSourceOptions, SourceClient, UpdateListener, ErrorListener } from "./token-source.js";
export { HttpTokenClient } from "./http-token-client.js";
export type { HttpTokenClientOptions } from "./http-token-client.js";
export { withToken, isStaleTokenError, STALE_TOKEN_ERRCODES } from "./with-token.js";
export type { WithTokenOptions, StaleTokenLike, HeldCredential } from "./with-token.js";
export { Backoff } from "./backoff.js";
export type { BackoffOptions } from "./backoff.js";
export { TokenServiceError, TokenSourceTimeoutError, TokenExpiredError, TokenSourceClosedError, PERMANENT_CODES } from "./errors.js";

export { apiKeyInterceptor, clientChannelCredentials, clientOptions } from "./client-credentials.js";
export type { ClientAuthOptions } from "./client-credentials.js";
// The error model both ends share: the server encodes, clients decode.
export { statusDetailsOf, decodeStatusDetails, encodeStatusDetails, STATUS_DETAILS_KEY, ERROR_DOMAIN } from "./status-details.js";
export type { StatusDetails, DetailsSource } from "./status-details.js";

export { pageSignature, cardSignature } from "./jssdk.js";

export { systemClock } from "./clock.js";
export type { Clock, TimerHandle, Random } from "./clock.js";

export {
  Token,
  GetTokenRequest,
  GetTokenResponse,
  ForceRefreshRequest,
  ForceRefreshResponse,
  WatchTokenRequest,
  WatchTokenResponse,
  SignJsSdkRequest,
  SignJsSdkResponse,
  AuthorizeByCodeRequest,
  AuthorizeByCodeResponse,
  CredentialKind,
  CredentialState,
  CredentialStatus,
  ListCredentialsRequest,
  ListCredentialsResponse,
  SignatureKind,
  TokenServiceClient,
  TokenServiceService,
} from "../generated/wxtoken/v1/token_service.js";
export type { TokenServiceServer } from "../generated/wxtoken/v1/token_service.js";

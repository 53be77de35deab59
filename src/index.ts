/**
 * wxtoken's public API: the client library for business services, and the
 * WeChat client for their own WeChat calls. The server is run through the CLI.
 * pageSignature / cardSignature are the JS-SDK algorithms, for checking a
 * signature the server made.
 */
export { TokenClient, DEFAULT_CHANNEL_OPTIONS, DEFAULT_TIMEOUT_MS } from "./client/token-client.js";
export type {
  TokenClientOptions,
  CallOptions,
  WatchOptions,
  ForceRefreshResult,
  Which,
  CredentialKindName,
  SignOptions,
  SignatureKindName,
  ListAuthorizersOptions,
  AuthorizerStatusName,
} from "./client/token-client.js";
export { TokenSource } from "./client/token-source.js";
export type { TokenSourceOptions, SourceClient, UpdateListener, ErrorListener } from "./client/token-source.js";
export { HttpTokenClient } from "./client/http-token-client.js";
export type { HttpTokenClientOptions } from "./client/http-token-client.js";
export { withToken, isStaleTokenError, STALE_TOKEN_ERRCODES } from "./client/with-token.js";
export type { WithTokenOptions, StaleTokenLike, HeldCredential } from "./client/with-token.js";
export { Backoff } from "./client/backoff.js";
export type { BackoffOptions, Random } from "./client/backoff.js";
export {
  TokenServiceError,
  TokenSourceTimeoutError,
  TokenExpiredError,
  TokenSourceClosedError,
  PERMANENT_CODES,
} from "./client/errors.js";

export { WeChatClient, DEFAULT_BASE_URL } from "./upstream/wechat-client.js";
export type { WeChatClientOptions, CallApiOptions } from "./upstream/wechat-client.js";
export { WeChatError, UpstreamTransportError, isUpstreamError } from "./upstream/errors.js";
export type { UpstreamError, UpstreamErrorKind, TransportFailure } from "./upstream/errors.js";

export { apiKeyInterceptor, clientChannelCredentials, clientOptions } from "./auth/client-credentials.js";
export type { ClientAuthOptions } from "./auth/client-credentials.js";
export { statusDetailsOf, decodeStatusDetails } from "./status-details.js";
export type { StatusDetails } from "./status-details.js";

export { pageSignature, cardSignature } from "./core/jssdk.js";

export { systemClock } from "./clock.js";
export type { Clock, TimerHandle } from "./clock.js";

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
  CredentialKind,
  SignatureKind,
  TokenServiceClient,
  TokenServiceService,
} from "../generated/wxtoken/v1/token_service.js";
export type { TokenServiceServer } from "../generated/wxtoken/v1/token_service.js";

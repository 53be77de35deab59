import type { Secret } from "../secret.js";

/** Which WeChat token API an app uses. */
export type TokenEndpoint =
  /** GET /cgi-bin/token: every call issues a new token (the old one lives 5 more minutes). */
  | "token"
  /** POST /cgi-bin/stable_token: the same token while valid; force_refresh issues a new one (20 a day). */
  | "stable_token";

export interface AppCredentials {
  appId: string;
  secret: Secret;
  endpoint: TokenEndpoint;
}

/** A token as WeChat returned it. */
export interface FetchedToken {
  accessToken: string;
  /** Seconds the token lives from the moment of the request, as WeChat said. */
  expiresIn: number;
}

export interface FetchTokenOptions {
  /** stable_token only: ask for a new token instead of the current one. */
  forceRefresh?: boolean;
  signal?: AbortSignal;
  /** Wait this many times the client's timeout for the answer (capped at 60 s, or the timeout if larger). */
  timeoutFactor?: number;
}

/** The refresher's view of WeChat: it knows nothing about gRPC. */
export interface TokenUpstream {
  /**
   * Fetches a token. `forceRefresh` matters only for stable_token (it asks for
   * a new token instead of the current one). Throws WeChatError or
   * UpstreamTransportError; never a message containing the secret.
   */
  fetchToken(app: AppCredentials, options?: FetchTokenOptions): Promise<FetchedToken>;
}

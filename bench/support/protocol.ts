/** What the bench process and its load processes say to each other. */

export interface UnaryLoad {
  type: "unary";
  target: string;
  /** getToken: TokenService.GetToken; echo: the bare server's byte echo; httpGet: GET /v1/apps/{app}/token on the HTTP API. */
  kind: "getToken" | "echo" | "httpGet";
  appId: string;
  /** The CredentialKind enum value to ask for (0: the access_token; 2: the jsapi ticket). */
  credential?: number;
  /** The platform the app's credential is held through (a WeCom suite id for an installed corp); absent: none. */
  platformId?: string;
  concurrency: number;
  warmupMs: number;
  durationMs: number;
}

export interface UnaryResult {
  type: "unary-result";
  calls: number;
  errors: number;
  firstError?: string;
  seconds: number;
  p50Ms: number;
  p99Ms: number;
}

export interface SourceReads {
  type: "token-source";
  target: string;
  appId: string;
  durationMs: number;
}

export interface SourceResult {
  type: "token-source-result";
  reads: number;
  seconds: number;
}

export interface Subscribe {
  type: "subscribe";
  /** grpc: WatchToken streams; sse: GET /v1/apps/{app}/token:watch, one HTTP/1.1 connection each. */
  transport: "grpc" | "sse";
  /** host:port of the gRPC server, or of the HTTP API with sse. */
  target: string;
  appId: string;
  subscribers: number;
  /** Streams per HTTP/2 connection (grpc only). */
  perConnection: number;
}

export interface Subscribed {
  type: "subscribed";
  version: number;
  /** From the first call to the last subscriber's first token. */
  ms: number;
}

/** Sent when every subscriber has received this version. */
export interface Delivered {
  type: "delivered";
  version: number;
  /** Wall-clock ms (stats.wallMs) of the first and last delivery, and the per-subscriber median. */
  first: number;
  last: number;
  median: number;
  /** Subscribers that got this version more than once (must be 0). */
  duplicates: number;
}

export interface Stop {
  type: "stop";
}

export type ToUnaryClient = UnaryLoad | SourceReads | Stop;
export type FromUnaryClient = UnaryResult | SourceResult;
export type ToWatchClient = Subscribe | Stop;
export type FromWatchClient = Subscribed | Delivered | { type: "error"; message: string };

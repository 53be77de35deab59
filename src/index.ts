/**
 * wxtoken's public API: the client library (everything @wxtoken/client
 * exports, re-exported so `import ... from "wxtoken"` keeps working), and the
 * WeChat client for business services' own WeChat calls. The server is run
 * through the CLI. This package is ESM-only; CommonJS users take the client
 * from @wxtoken/client.
 */
export * from "@wxtoken/client";

export { WeChatClient, DEFAULT_BASE_URL } from "./upstream/wechat-client.js";
export type { WeChatClientOptions, CallApiOptions } from "./upstream/wechat-client.js";
export { WeChatError, UpstreamTransportError, isUpstreamError } from "./upstream/errors.js";
export type { UpstreamError, UpstreamErrorKind, TransportFailure } from "./upstream/errors.js";

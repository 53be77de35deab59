/**
 * TokenClient: the generated TokenService client with promises, deadlines and
 * named errors. Every unary call gets a deadline; a watch has none (it is
 * meant to live for as long as the caller wants it).
 */
import { credentials as grpcCredentials, Metadata, status, type ChannelCredentials, type ClientOptions, type ClientUnaryCall, type ServiceError } from "@grpc/grpc-js";
import {
  AuthorizerStatus as WireAuthorizerStatus,
  CredentialKind as WireKind,
  CredentialState as WireState,
  SignatureKind as WireSignature,
  TokenServiceClient,
  type AuthorizeByCodeResponse,
  type ForceRefreshResponse,
  type GetTokenResponse,
  type ListAuthorizersResponse,
  type ListCredentialsResponse,
  type SignJsSdkResponse,
  type SyncAuthorizersResponse,
  type Token,
} from "../generated/wxtoken/v1/token_service.js";
import { TokenServiceError } from "./errors.js";
import { credentialKindNumber, type CredentialKindSpelling } from "./kinds.js";
import { credentialStateNumber, type CredentialStateSpelling } from "./states.js";
import { tokensOf } from "./watch-stream.js";

export interface TokenClientOptions {
  /** Default: insecure (plaintext), for a server on a private network or a sidecar. */
  credentials?: ChannelCredentials;
  /** grpc-js channel options, merged over DEFAULT_CHANNEL_OPTIONS. */
  channelOptions?: Partial<ClientOptions>;
  /** Deadline of each unary call; default 5_000 ms. */
  timeoutMs?: number;
}

/** Names a credential beyond its app id. */
export interface Which {
  /**
   * Its access_token (default) or one of its tickets, in any spelling
   * (kinds.ts): "jsapi_ticket", "jsapi", "CREDENTIAL_KIND_JSAPI_TICKET" or
   * CredentialKind.CREDENTIAL_KIND_JSAPI_TICKET. Anything else throws InvalidKindError before any call.
   */
  kind?: CredentialKindSpelling;
  /** WeCom: the agentid ("1000002") or built-in app name whose secret it is; omit for an Official Account. */
  agent?: string;
  /**
   * WeCom service providers: the suite id through which the corp (appId)
   * installed the suite's app, for the corp's token or tickets through that
   * provider (no agent then). Omit for the config's apps and for Open
   * Platform authorizers.
   */
  platformId?: string;
}

/** The kind, agent and platform as the wire carries them (the proto enum, "" for none); an unknown kind throws InvalidKindError. */
export function wireWhich(which: Which = {}): { kind: WireKind; agent: string; platformId: string } {
  return { kind: credentialKindNumber(which.kind), agent: which.agent ?? "", platformId: which.platformId ?? "" };
}

export type SignatureKindName = "config" | "agent_config" | "card";

export interface SignOptions extends CallOptions {
  /** wx.config (default), wx.agentConfig (WeCom) or a card call. */
  kind?: SignatureKindName;
  /** WeCom: the agentid (required for agent_config, except through a suite). */
  agent?: string;
  /** WeCom service providers: the suite id through which the corp installed the suite's app; its agentid comes from the corp's auth info. */
  platformId?: string;
  /** Cards: the values signed besides ticket, timestamp and nonce (card_id, code, openid...). */
  cardValues?: string[];
}

const WIRE_SIGNATURE: Record<SignatureKindName, WireSignature> = {
  config: WireSignature.SIGNATURE_KIND_CONFIG,
  agent_config: WireSignature.SIGNATURE_KIND_AGENT_CONFIG,
  card: WireSignature.SIGNATURE_KIND_CARD,
};

export interface CallOptions {
  /** Overrides the client's timeoutMs for this call. */
  timeoutMs?: number;
  /** Cancels the call; the promise then rejects with the signal's reason. */
  signal?: AbortSignal;
}

export type AuthorizerStatusName = "active" | "needs_reauthorization";

/** A page of ListAuthorizers (by appid): the first without pageToken, the next with the last answer's nextPageToken. */
export interface ListAuthorizersOptions extends CallOptions {
  /** Default 100 (the server's), at most 1,000. */
  pageSize?: number;
  pageToken?: string;
  /** Only the authorizers with this status (default: all). */
  status?: AuthorizerStatusName;
}

const WIRE_STATUS: Record<AuthorizerStatusName, WireAuthorizerStatus> = {
  active: WireAuthorizerStatus.AUTHORIZER_STATUS_ACTIVE,
  needs_reauthorization: WireAuthorizerStatus.AUTHORIZER_STATUS_NEEDS_REAUTHORIZATION,
};

/** A page of ListCredentials: the first without pageToken, the next with the last answer's nextPageToken (with the same filters). */
export interface ListCredentialsOptions extends CallOptions {
  /** Default 100 (the server's), at most 1,000. */
  pageSize?: number;
  pageToken?: string;
  /** Only this app's (or corp's) credentials. */
  appId?: string;
  /** Only this kind, in any spelling (default: every kind). */
  kind?: CredentialKindSpelling;
  /** Only this state, in any spelling: "down", "CREDENTIAL_STATE_DOWN", 3 (default: every state). Anything else throws InvalidStateError before any call. */
  state?: CredentialStateSpelling;
  /** Only those whose appid, agent, kind or platform contains this (case-insensitive). */
  search?: string;
}

export interface WatchOptions extends Which {
  /** The version already held (default 0): the server skips tokens up to it. */
  knownVersion?: number;
  /**
   * The fingerprint of the token held: lets a server that restarted without
   * its store (and numbers from 1 again) tell that its token is another one.
   */
  knownFingerprint?: string;
  /** Ends the watch: the iteration then finishes without an error. */
  signal?: AbortSignal;
  /**
   * Called once the server has accepted the subscription (its response
   * headers arrived), which may be long before any token: a reconnect that
   * sends knownVersion gets nothing until the next rotation. A watcher resets
   * its reconnect backoff here.
   */
  onOpen?: () => void;
}

export interface ForceRefreshResult {
  /** The token to use from now on. */
  token: Token;
  /** True when this call caused (or joined) an upstream refresh. */
  refreshed: boolean;
}

/**
 * Keepalive pings on the client too: a watch stream is idle for hours, and
 * load balancers drop idle connections without telling either side. The
 * server permits pings every 10 s or more.
 */
export const DEFAULT_CHANNEL_OPTIONS: Partial<ClientOptions> = {
  "grpc.keepalive_time_ms": 30_000,
  "grpc.keepalive_timeout_ms": 10_000,
  "grpc.keepalive_permit_without_calls": 1,
};

export const DEFAULT_TIMEOUT_MS = 5_000;

type UnaryInvoker<Res> = (
  metadata: Metadata,
  options: { deadline: Date },
  callback: (err: ServiceError | null, res: Res) => void,
) => ClientUnaryCall;

export class TokenClient {
  /** The generated client underneath, for what this wrapper does not cover. */
  readonly raw: TokenServiceClient;
  readonly #timeoutMs: number;

  constructor(address: string, options: TokenClientOptions = {}) {
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!(this.#timeoutMs > 0)) throw new RangeError(`timeoutMs must be positive, got ${this.#timeoutMs}`);
    this.raw = new TokenServiceClient(address, options.credentials ?? grpcCredentials.createInsecure(), {
      ...DEFAULT_CHANNEL_OPTIONS,
      ...options.channelOptions,
    });
  }

  /** The app's current valid token (or, with options.kind, ticket). */
  async getToken(appId: string, options: CallOptions & Which = {}): Promise<Token> {
    const req = { appId, ...wireWhich(options) };
    const res = await this.#unary<GetTokenResponse>("GetToken", options, (md, o, cb) => this.raw.getToken(req, md, o, cb));
    return required("GetToken", res.token);
  }

  /**
   * What a page passes to wx.config / wx.agentConfig (or a card call), signed
   * on the server with the app's ticket: the ticket never leaves it.
   */
  async signJsSdk(appId: string, url: string, options: SignOptions = {}): Promise<SignJsSdkResponse> {
    const req = { appId, url, agent: options.agent ?? "", platformId: options.platformId ?? "", kind: WIRE_SIGNATURE[options.kind ?? "config"], cardValues: options.cardValues ?? [] };
    return this.#unary<SignJsSdkResponse>("SignJsSdk", options, (md, o, cb) => this.raw.signJsSdk(req, md, o, cb));
  }

  /**
   * An Open Platform's state: its verify ticket, component token and one page
   * of its authorizers (never a token itself). Call again with pageToken =
   * the answer's nextPageToken until it is empty.
   */
  async listAuthorizers(componentAppId: string, options: ListAuthorizersOptions = {}): Promise<ListAuthorizersResponse> {
    const statusFilter = options.status === undefined ? WireAuthorizerStatus.AUTHORIZER_STATUS_UNSPECIFIED : WIRE_STATUS[options.status];
    if (statusFilter === undefined) throw new TypeError(`unknown authorizer status ${String(options.status)}`);
    const req = { componentAppId, pageSize: options.pageSize ?? 0, pageToken: options.pageToken ?? "", statusFilter };
    return this.#unary<ListAuthorizersResponse>("ListAuthorizers", options, (md, o, cb) => this.raw.listAuthorizers(req, md, o, cb));
  }

  /**
   * One page of every credential the server holds (those this caller may
   * read), with its state, fingerprint, times, failure and quota: never a
   * token itself. Call again with pageToken = the answer's nextPageToken
   * (and the same filters) until it is empty; a page may hold fewer than
   * pageSize, even none, before the last.
   */
  async listCredentials(options: ListCredentialsOptions = {}): Promise<ListCredentialsResponse> {
    const kindFilter = options.kind === undefined ? WireKind.CREDENTIAL_KIND_UNSPECIFIED : credentialKindNumber(options.kind);
    const stateFilter = options.state === undefined ? WireState.CREDENTIAL_STATE_UNSPECIFIED : credentialStateNumber(options.state);
    const req = { pageSize: options.pageSize ?? 0, pageToken: options.pageToken ?? "", appId: options.appId ?? "", kindFilter, stateFilter, search: options.search ?? "" };
    return this.#unary<ListCredentialsResponse>("ListCredentials", options, (md, o, cb) => this.raw.listCredentials(req, md, o, cb));
  }

  /**
   * Hands the server an authorization code your redirect_uri received (an
   * Open Platform authorization or a WeCom suite install started on your own
   * site): the server exchanges it and keeps the tenant's long-lived secret.
   * Resolves with the tenant's appid or corpid; GetToken serves its token
   * from then on. Needs a refresh grant on the platform.
   */
  async authorizeByCode(platformId: string, authCode: string, options: CallOptions = {}): Promise<AuthorizeByCodeResponse> {
    return this.#unary<AuthorizeByCodeResponse>("AuthorizeByCode", options, (md, o, cb) => this.raw.authorizeByCode({ platformId, authCode }, md, o, cb));
  }

  /** Re-reads the platform's authorizers and refresh tokens from WeChat (a recovery after a store was lost). */
  async syncAuthorizers(componentAppId: string, options: CallOptions = {}): Promise<SyncAuthorizersResponse> {
    return this.#unary<SyncAuthorizersResponse>("SyncAuthorizers", options, (md, o, cb) => this.raw.syncAuthorizers({ componentAppId }, md, o, cb));
  }

  /**
   * Passive refresh after WeChat rejected staleToken (40001, 40014, 42001): the
   * server refreshes only if staleToken is still its current token.
   */
  async forceRefresh(appId: string, staleToken: string, options: CallOptions & Which = {}): Promise<ForceRefreshResult> {
    const req = { appId, staleToken, ...wireWhich(options) };
    const res = await this.#unary<ForceRefreshResponse>("ForceRefresh", options, (md, o, cb) => this.raw.forceRefresh(req, md, o, cb));
    return { token: required("ForceRefresh", res.token), refreshed: res.refreshed };
  }

  /**
   * The app's tokens as they come: the current one at once (unless its version
   * is <= knownVersion), then each new one. Throws TokenServiceError when the
   * server ends the stream with an error; breaking out of the loop, return()
   * or the signal cancels it, even before the first next().
   */
  watch(appId: string, options: WatchOptions = {}): AsyncGenerator<Token, void, undefined> {
    if (options.signal?.aborted) return (async function* () {})();
    const call = this.raw.watchToken({ appId, knownVersion: options.knownVersion ?? 0, knownFingerprint: options.knownFingerprint ?? "", ...wireWhich(options) });
    return tokensOf(call, { signal: options.signal, onOpen: options.onOpen });
  }

  /** Closes the channel. */
  close(): void {
    this.raw.close();
  }

  #unary<Res>(method: string, options: CallOptions, invoke: UnaryInvoker<Res>): Promise<Res> {
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(signal.reason);
    // gRPC deadlines are wall-clock time on the wire, so this is Date.now(), not an injected clock.
    const deadline = new Date(Date.now() + (options.timeoutMs ?? this.#timeoutMs));
    return new Promise<Res>((resolve, reject) => {
      const onAbort = () => call.cancel();
      const call = invoke(new Metadata(), { deadline }, (err, res) => {
        signal?.removeEventListener("abort", onAbort);
        if (signal?.aborted) reject(signal.reason);
        else if (err) reject(TokenServiceError.from(method, err));
        else resolve(res);
      });
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }
}

/** The token of an OK answer; an answer without one is the server's fault (INTERNAL). */
export function required(method: string, token: Token | undefined): Token {
  if (!token) throw new TokenServiceError(method, status.INTERNAL, "the server answered OK without a token");
  return token;
}

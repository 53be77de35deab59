/**
 * What every transport (gRPC in src/grpc/, HTTP/JSON and server-sent events
 * in src/http/) does with a request, the same way: validate, authorize
 * (before the lookup: a denial must not reveal whether the app exists), look
 * up, act. Transports only decode, authenticate and encode; they never decide.
 */
import { allowAll, type AccessPolicy, type CallInfo, type Permission, type Principal } from "../core/access-policy.js";
import { describeId, type CredentialId, type CredentialRecord } from "../core/credential-id.js";
import type { CredentialEngine } from "../core/engine.js";
import { UnknownCredentialError } from "../core/errors.js";
import type { Credential, ForceRefreshResult } from "../core/credential.js";
import { ticketFor, type JsSdkSigner, type SignatureKind, type Signed } from "../core/signer.js";
import { InvalidArgumentError, ShuttingDownError } from "../errors.js";
import type { Logger } from "../log.js";
import { clientKey, type RateLimiter } from "./rate-limit.js";
import { held, validateAppId, validateAuthCode, validateId, validatePlatformId, validateSignTarget, validateStaleToken } from "./validate.js";
import { Watcher, type WatchSink } from "./watcher.js";
import { watchClient, watchConnection, type WatchLimiter } from "./watch-limits.js";
import type { CredentialKind } from "../core/credential-id.js";
import type { PushedPlatform } from "../platform/pushed-platform.js";
import { platformView, syncable, SyncNotSupportedError, UnknownPlatformError, type PlatformView, type SyncView } from "./platforms.js";
import { pageStart, type PageRequest } from "./paging.js";
import { listCredentials, type CredentialListArgs, type CredentialListView, type Visibility } from "./credentials.js";

/** A request naming a credential, with the kind already mapped from the transport's enum (undefined: unknown value). */
export interface Named {
  appId: unknown;
  agent?: unknown;
  kind: CredentialKind | undefined;
  /** A WeCom suite id: the corp's credential through that suite ("" or undefined: none). */
  platformId?: unknown;
}

export interface SignArgs {
  appId: unknown;
  agent?: unknown;
  /** A WeCom suite id: sign an installed corp's page with its tickets through the suite. */
  platformId?: unknown;
  /** undefined: a value this server does not know. */
  kind: SignatureKind | undefined;
  url: unknown;
  cardValues: readonly string[];
}

/** ListAuthorizers: the platform and the page (see paging.ts). */
export interface ListArgs extends PageRequest {
  /** The component appid or the suite id. */
  componentAppId: unknown;
}

/** AuthorizeByCode's answer: the tenant the code authorized. */
export interface AuthorizedView {
  platformId: string;
  /** The authorizer appid or the installed corp's corpid. */
  appId: string;
  /** ms since the epoch. */
  authorizedAt: number;
}

export interface TokenApiOptions {
  accessPolicy?: AccessPolicy;
  /** Per-client limit on ForceRefresh calls that would go upstream. */
  forceRefreshLimiter?: RateLimiter;
  signer?: JsSdkSigner;
  /** The configured pushed-ticket platforms (Open Platforms, WeCom suites), by id (component appid, suite id). */
  platforms?: ReadonlyMap<string, PushedPlatform>;
  /** Caps on open watch streams, every transport's together (watches.tokens); none: uncapped. */
  watchLimiter?: WatchLimiter;
  log: Logger;
}

export class TokenApi {
  private policy: AccessPolicy;
  private readonly watchers = new Set<Watcher>();
  private draining = false;

  constructor(
    private readonly engine: CredentialEngine,
    private readonly opts: TokenApiOptions,
  ) {
    this.policy = opts.accessPolicy ?? allowAll;
    // A credential removed (a reload, a de-authorization) ends its watch streams with NOT_FOUND.
    engine.onMembership((event) => {
      if (event.type === "removed") this.endWatchesOf(event.credential.key);
    });
  }

  authenticate(call: CallInfo): Principal {
    return this.policy.authenticate(call);
  }

  /** waitMs: how long the caller can wait (its deadline): long enough, it joins the next attempt rather than fail at once. */
  async getToken(principal: Principal, req: Named, waitMs = 0): Promise<CredentialRecord> {
    return this.resolve(principal, req, "read").get({ waitMs });
  }

  /**
   * The per-client limit only applies to a call that would go upstream: one
   * whose stale value is already replaced, or that joins a refresh under way,
   * costs nothing and is answered whatever the limit. waitMs: as for getToken
   * (a caller inside the minimum interval, or after a failed attempt, waits for the next one).
   */
  async forceRefresh(principal: Principal, req: Named & { staleToken: unknown }, peer: string, waitMs = 0): Promise<ForceRefreshResult> {
    const app = this.resolve(principal, req, "refresh", () => validateStaleToken(req.staleToken));
    const limiter = this.opts.forceRefreshLimiter;
    const beforeUpstream = limiter ? () => limiter.take(clientKey(principal, { peer })) : undefined;
    return app.forceRefresh(req.staleToken as string, principal.name, beforeUpstream, { waitMs });
  }

  async signJsSdk(principal: Principal, req: SignArgs): Promise<Signed> {
    const { appId, agent, platform } = validateSignTarget(req.appId, req.agent, req.platformId);
    if (req.kind === undefined) throw new InvalidArgumentError("kind is not a signature kind this server knows", "INVALID_KIND");
    const ticket = ticketFor({ appId, agent, platform, kind: req.kind });
    // The ticket's own id: the corp jsapi ticket needs a grant on the corp, whichever agent is named.
    this.authorize(this.policy, principal, ticket, "sign");
    this.knownPlatform(ticket);
    if (!this.opts.signer) throw new UnknownCredentialError(ticket);
    return this.opts.signer.sign({ appId, agent, platform, kind: req.kind, url: req.url, cardValues: req.cardValues });
  }

  /** A platform's state and one page of its tenants: needs a read grant on the platform id (component appid or suite id). */
  listAuthorizers(principal: Principal, req: ListArgs): PlatformView {
    const start = pageStart(validateAppId(req.componentAppId, "component_app_id"), req);
    return platformView(this.platform(principal, req.componentAppId, "read"), this.engine, start);
  }

  /**
   * An authorization code a business server received on its redirect_uri:
   * the platform exchanges it and stores the tenant's long-lived secret
   * before this resolves. Needs a refresh grant on the platform id. The code
   * is never logged (it buys that secret while it is valid). The exchange
   * needs the platform's own token: without one the caller gets that
   * token's own error (NO_VERIFY_TICKET, NO_SUITE_TICKET...), as GetToken
   * on the platform id would answer, and WeChat is not asked; a code already
   * exchanged (a retry) is answered without it. waitMs: as for getToken.
   */
  async authorizeByCode(principal: Principal, platformId: unknown, code: unknown, waitMs = 0): Promise<AuthorizedView> {
    const id = validatePlatformId(platformId);
    validateAuthCode(code);
    const platform = this.platform(principal, id, "refresh", "platform_id");
    const done = await platform.authorizeByCode(code as string, async () => this.engine.byKey(platform.tokenKey)?.get({ waitMs }));
    this.opts.log.info({ platform: platform.id, family: platform.facts.family, tenant: done.tenantId, caller: principal.name }, "authorized by a redirect code");
    return { platformId: platform.id, appId: done.tenantId, authorizedAt: done.authorizedAt };
  }

  /**
   * One page of every credential's status (never a value): a caller sees
   * the credentials it may read (GetToken), and the counts by state only
   * with a read grant on every app ("*"; the id "*" is covered by no other grant).
   */
  listCredentials(principal: Principal, args: CredentialListArgs): CredentialListView {
    return listCredentials(this.engine, args, this.visibility(principal));
  }

  /** What a caller may see of the credentials: all of them, or those it may read. */
  private visibility(principal: Principal): Visibility {
    const policy = this.policy;
    try {
      policy.authorize(principal, { appId: "*", kind: "access_token" }, "read");
      return { all: true };
    } catch {
      const may = (c: Credential): boolean => {
        try {
          this.authorize(policy, principal, c.id, "read");
          return true;
        } catch {
          return false;
        }
      };
      return { all: false, may };
    }
  }

  /**
   * Re-reads the authorizer list from WeChat: needs a refresh grant on the
   * component appid. A WeCom suite has no list to read: FAILED_PRECONDITION.
   */
  async syncAuthorizers(principal: Principal, componentAppId: unknown): Promise<SyncView> {
    const platform = this.platform(principal, componentAppId, "refresh");
    if (!syncable(platform)) throw new SyncNotSupportedError(platform);
    this.opts.log.info({ component: platform.id, caller: principal.name }, "authorizer sync requested");
    const result = await platform.sync();
    return { ...result, platform: platformView(platform, this.engine, pageStart(platform.id, {})) };
  }

  /** A new subscriber: the current value at once (unless known), then each new one, through the sink. */
  watch(call: CallInfo, principal: Principal, req: Named, known: { version: number; fingerprint: string }, sink: WatchSink): Watcher {
    if (this.draining) throw new ShuttingDownError("server shutting down");
    const asked = validateId(req.appId, req.agent, req.kind, req.platformId);
    this.authorize(this.policy, principal, held(asked), "read");
    const app = this.lookup(asked);
    // Counted once the request is known to be good: a refusal for another reason takes no place.
    const release = this.opts.watchLimiter?.admit(watchClient(principal, call.peer), watchConnection(call.peer)) ?? (() => undefined);
    let watcher: Watcher;
    try {
      watcher = new Watcher(sink, app, asked, call, known);
    } catch (err) {
      release();
      throw err;
    }
    this.watchers.add(watcher);
    watcher.onClose(() => {
      this.watchers.delete(watcher);
      release();
    });
    return watcher;
  }

  watcherCount(): number {
    return this.watchers.size;
  }

  /**
   * Uses a new access policy (a config reload): for calls from now on, and for
   * the watch streams already open, which end with UNAUTHENTICATED or
   * PERMISSION_DENIED when their key or grant was revoked.
   */
  setAccessPolicy(policy: AccessPolicy): void {
    this.policy = policy;
    for (const w of [...this.watchers]) {
      try {
        this.authorize(policy, policy.authenticate(w.caller), held(w.asked), "read");
      } catch (err) {
        this.opts.log.info({ credential: w.key, reason: (err as Error).message }, "watch stream ended: access revoked");
        w.end(err);
      }
    }
  }

  /** Ends the watch streams of a credential that a reload removed (NOT_FOUND). */
  endWatchesOf(key: string): void {
    // A platform's tenant that left (a de-authorization, an uninstall) is told so, not "not configured".
    for (const w of [...this.watchers]) if (w.key === key) w.end(new UnknownCredentialError(w.asked, this.notHeld(w.asked)));
  }

  /** New subscriptions are refused with UNAVAILABLE from now on. */
  startDraining(): void {
    this.draining = true;
  }

  /** Ends every watch stream with UNAVAILABLE / SHUTTING_DOWN, so clients reconnect elsewhere. */
  endWatches(details = "server shutting down; reconnect with known_version"): void {
    this.draining = true;
    for (const w of [...this.watchers]) w.end(new ShuttingDownError(details));
  }

  /**
   * A grant on a platform's id also covers its tenants (they come and go;
   * grants cannot list them ahead). A credential through a platform (a corp
   * through a WeCom suite: `platform` set) is authorized against the
   * platform id alone: a grant on the corp as a self-built app of the
   * config does not reach its credentials through a provider. An Open
   * Platform's authorizers are named by their appid alone: a grant on the
   * appid or on the component appid covers them. A denial is the same
   * whether or not the app or platform exists.
   */
  private authorize(policy: AccessPolicy, principal: Principal, id: CredentialId, permission: Permission): void {
    if (id.platform !== undefined) {
      policy.authorize(principal, { appId: id.platform, kind: "access_token" }, permission);
      return;
    }
    try {
      policy.authorize(principal, id, permission);
    } catch (err) {
      // Only a platform whose tenants are named by their id alone (an Open Platform's): a suite's corps carry the suite id.
      const platform = [...(this.opts.platforms?.values() ?? [])].find((p) => p.holds(id.appId) && p.tenantKey(id.appId) === id.appId);
      if (!platform) throw err;
      try {
        policy.authorize(principal, { appId: platform.id, kind: "access_token" }, permission);
      } catch {
        throw err;
      }
    }
  }

  /** The platform a request names (checked, then authorized, then looked up: a denial reads the same whether it exists). */
  private platform(principal: Principal, platformId: unknown, permission: Permission, field = "component_app_id"): PushedPlatform {
    const id = field === "component_app_id" ? validateAppId(platformId, field) : validatePlatformId(platformId, field);
    this.policy.authorize(principal, { appId: id, kind: "access_token" }, permission);
    const platform = this.opts.platforms?.get(id);
    if (!platform) throw new UnknownPlatformError(id);
    return platform;
  }

  /** NOT_FOUND / UNKNOWN_PLATFORM for a credential through a platform not configured here (after the permission check). */
  private knownPlatform(id: CredentialId): void {
    if (id.platform !== undefined && !this.opts.platforms?.has(id.platform)) throw new UnknownPlatformError(id.platform);
  }

  private resolve(principal: Principal, req: Named, permission: Permission, validateRest?: () => void): Credential {
    const id = validateId(req.appId, req.agent, req.kind, req.platformId);
    validateRest?.();
    // The corp jsapi ticket is the corp's: a grant on one agent does not reach it.
    this.authorize(this.policy, principal, held(id), permission);
    return this.lookup(id);
  }

  private lookup(id: CredentialId): Credential {
    this.knownPlatform(id);
    try {
      return this.engine.find(held(id));
    } catch (err) {
      // Name what the caller asked for (its agent and platform included), not our key.
      if (err instanceof UnknownCredentialError) throw new UnknownCredentialError(id, this.notHeld(id));
      throw err;
    }
  }

  /** Why a credential through a platform is not here: the corp has not installed the suite's app (or was removed). */
  private notHeld(id: CredentialId): string | undefined {
    if (id.platform === undefined) return undefined;
    const platform = this.opts.platforms!.get(id.platform)!;
    const title = `${platform.facts.title} "${platform.id}"`;
    if (platform.holds(id.appId) && platform.tenantKey(id.appId) === id.appId) {
      return `${title} serves "${id.appId}" by its appid alone: leave platform_id empty`;
    }
    if (platform.holds(id.appId) && id.kind !== "access_token") {
      return `${title} holds no ${id.kind} for its corps: list it in wecomProviders.suites[].corpTickets ("${id.appId}" is installed; key ${describeId(id)})`;
    }
    return `"${id.appId}" is not a tenant of ${title} on this server (it has not authorized or installed it, or was removed; key ${describeId(id)})`;
  }
}

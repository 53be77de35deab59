/**
 * What every pushed-ticket platform is to the server around it, whichever
 * family it belongs to: an Open Platform (第三方平台, src/openplatform/) or
 * a WeCom service provider's suite (企业微信第三方应用 / 代开发, src/wecomsuite/).
 *
 * Both hold a ticket WeChat pushes (12 hours or 30 minutes), buy their own
 * token with it, and keep a book of tenants (authorizer accounts, installed
 * corps), each with a long-lived secret that cannot be had again once lost
 * (a refresh token, a permanent code). The receiver, the API (listing,
 * authorization by redirect code), metrics and the server's wiring see them
 * only through this interface.
 */
import type { Secret } from "../secret.js";
import type { AuthorizerPage } from "./tenant-index.js";
import type { AuthorizerStatus, StoredTicket } from "./store.js";
import type { PushOutcome } from "./receiver.js";

/** The families of pushed-ticket platforms, as config, metrics and the API name them. */
export type PlatformFamily = "open_platform" | "wecom_suite";

/** What one family's platforms share: names for messages and the ticket's life. */
export interface FamilyFacts {
  readonly family: PlatformFamily;
  /** For messages: "Open Platform", "WeCom suite". */
  readonly title: string;
  /** The pushed ticket's name upstream: component_verify_ticket, suite_ticket. */
  readonly ticketName: string;
  /** How long WeChat says a pushed ticket is valid. */
  readonly ticketLifetimeMs: number;
  /** How often WeChat pushes a new one. */
  readonly pushIntervalMs: number;
}

/** What the push receiver needs to verify and route a platform's pushes. */
export interface PushEndpoint {
  /** The exact path WeChat posts to. */
  readonly path: string;
  readonly messageToken: Secret;
  readonly encodingAesKey: Secret;
}

/** A tenant the platform holds after an authorization code was exchanged. */
export interface Authorized {
  /** The authorizer appid or the installed corp's corpid. */
  tenantId: string;
  /** When it authorized, ms since the epoch. */
  authorizedAt: number;
}

export interface PushedPlatform {
  /** The component appid or the suite id: the platform's key in the store, the config, metrics and the API. */
  readonly id: string;
  readonly facts: FamilyFacts;
  /** The engine group (and lane) of its tenants' credentials. */
  readonly group: string;
  readonly push: PushEndpoint;
  /** The receiver ids WeCom's URL check (a GET with echostr) may name; undefined where the family has no URL check. */
  readonly urlCheckIds?: readonly string[];
  /** The engine key of the platform's own token (component_access_token, suite_access_token). */
  readonly tokenKey: string;
  /** How far the last (or running) bulk load got (metrics, status); undefined when none ran. */
  readonly progress: { done: number; total: number } | undefined;

  /** Reads the ticket and the tenants from the store; follows later changes. */
  load(): Promise<void>;
  /** Adds the platform token and every tenant held to the engine, once, after load. */
  serveAll(): void;
  /** After the engine started. */
  start(): void;
  stop(): void;
  /** At shutdown: long-lived secrets the store refused are tried once more. */
  flushWrites(): Promise<void>;

  /** A push the receiver verified and decrypted. Rejects when what it carries could not be stored (WeChat then retries). */
  handlePush(fields: Record<string, string>): Promise<PushOutcome>;
  /**
   * An authorization code a business server received on its redirect_uri
   * (an install or authorization started on its own site pushes none):
   * exchanged, and the tenant's secret durably stored, before it resolves.
   * `ready` (the platform's own token) is awaited only for a code not
   * exchanged already (here, by another replica, or before a restart).
   */
  authorizeByCode(code: string, ready?: () => Promise<unknown>): Promise<Authorized>;

  /** Whether the tenant is held (whatever its status). */
  holds(tenantId: string): boolean;
  /** The engine key of a tenant's token. */
  tenantKey(tenantId: string): string;
  /** One page of the tenants, by id, after `after`. */
  authorizerPage(after: string | undefined, limit: number, status?: AuthorizerStatus): AuthorizerPage;
  /** How many tenants are held, with this status or all. */
  authorizerCount(status?: AuthorizerStatus): number;
  /** The newest ticket held, if any (its times only are ever shown). */
  heldTicket(): StoredTicket | undefined;
}

/** The engine group (and lane) of a platform's tenants. */
export function platformGroup(platformId: string): string {
  return `platform:${platformId}`;
}

/** The engine group of a platform's own token (component_access_token, suite_access_token): apart from its tenants' paced lane. */
export function platformTokenGroup(platformId: string): string {
  return `${platformGroup(platformId)}:component`;
}

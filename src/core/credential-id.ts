/**
 * What the engine holds: credentials of any kind, named by a CredentialId and
 * keyed by one string in memory, in the stores and in Redis. The engine never
 * looks inside a kind; issuers (src/issuers/) know what each one means.
 */
import type { CredentialKindName } from "@wxtoken/client";
import { fingerprint } from "../fingerprint.js";

/** A kind by its long name, the one the engine, the stores, logs and metrics use (the table of every spelling: the client's kinds.ts). */
export type CredentialKind = CredentialKindName;

/** An appid, a WeCom corpid, or an agent (agentid or built-in app name): one pattern, defined once. */
export const APP_ID_PATTERN = /^[A-Za-z0-9_.-]{1,128}$/;
export const APP_ID_RULE = "1-128 characters of A-Z a-z 0-9 _ - .";
export const AGENT_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;
export const AGENT_RULE = "1-64 characters of A-Z a-z 0-9 _ - . (an agentid such as 1000002, or a built-in app name such as contacts)";

export interface CredentialId {
  /** The Official Account / Mini Program appid, or the WeCom corpid. */
  readonly appId: string;
  /** WeCom: the agentid or built-in app name of the secret; undefined otherwise (and for the corp jsapi ticket). */
  readonly agent?: string;
  readonly kind: CredentialKind;
  /**
   * The pushed-ticket platform a tenant's credential comes through: a WeCom
   * suite id for an installed corp's token and tickets (one corp may install
   * several providers' apps, and also be configured as a self-built corp).
   * Undefined for the config's apps and for Open Platform authorizers (an
   * appid is held by one platform at most).
   */
  readonly platform?: string;
}

/**
 * The key of a credential: "wx1" for an app's access_token (what stores held
 * before kinds existed, so old snapshots still load), "ww1/1000002" for a
 * WeCom agent's token, and "#<kind>" after either for a ticket ("wx1#jsapi_ticket",
 * "ww1#jsapi_ticket" for the corp ticket, "ww1/1000002#agent_config_ticket").
 * A corp's credential through a WeCom suite is "ww1@dk1" ("ww1@dk1#jsapi_ticket").
 * None of "/", "#" or "@" can occur in an app id, agent or platform id.
 */
export function credentialKey(id: CredentialId): string {
  const owner = ownerOf(id);
  return id.kind === "access_token" ? owner : `${owner}#${id.kind}`;
}

function ownerOf(id: CredentialId): string {
  const app = id.platform === undefined ? id.appId : `${id.appId}@${id.platform}`;
  return id.agent === undefined ? app : `${app}/${id.agent}`;
}

/** For logs and messages: `app wx1`, `jsapi_ticket of ww1/1000002`, `app ww1@dk1`. */
export function describeId(id: CredentialId): string {
  const owner = ownerOf(id);
  return id.kind === "access_token" ? `app ${owner}` : `${id.kind} of ${owner}`;
}

/** What a credential's log lines carry: the app, and the agent, platform and kind when they say more. */
export function logFields(id: CredentialId): Record<string, string> {
  return {
    appId: id.appId,
    ...(id.agent !== undefined ? { agent: id.agent } : {}),
    ...(id.platform !== undefined ? { platform: id.platform } : {}),
    ...(id.kind !== "access_token" ? { kind: id.kind } : {}),
  };
}

/** "token" or "ticket", for messages. */
export function noun(id: CredentialId): "token" | "ticket" {
  return id.kind === "access_token" ? "token" : "ticket";
}

/** One value of one credential, as the server holds it. Times are ms since the epoch. */
export interface CredentialRecord {
  readonly key: string;
  readonly id: CredentialId;
  /** The token or ticket itself: never logged (fingerprint instead). */
  readonly value: string;
  readonly version: number;
  readonly obtainedAt: number;
  readonly expiresAt: number;
  readonly refreshAt: number;
  readonly fingerprint: string;
}

export function makeRecord(fields: Omit<CredentialRecord, "fingerprint">): CredentialRecord {
  return Object.freeze({ ...fields, fingerprint: fingerprint(fields.value) });
}

/** For logs (the logger already names the credential): never the value itself. */
export function describeRecord(t: CredentialRecord): Record<string, unknown> {
  return {
    version: t.version,
    token: t.fingerprint,
    expiresAt: new Date(t.expiresAt).toISOString(),
    refreshAt: new Date(t.refreshAt).toISOString(),
  };
}

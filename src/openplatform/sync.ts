/**
 * Recovery from WeChat's own record: api_get_authorizer_list holds every
 * account that authorized the platform with its current refresh token. Read
 * page by page, then applied to the store: the missing restored, changed
 * refresh tokens taken, accounts no longer listed marked as needing
 * re-authorization. OpenPlatform decides when (src/openplatform/platform.ts).
 */
import type { Clock } from "../clock.js";
import { APP_ID_PATTERN } from "../core/credential-id.js";
import { AUTHORIZER_TOKEN_ERRCODES } from "../issuers/component.js";
import { UpstreamTransportError, type ErrcodeTable } from "../upstream/errors.js";
import type { WeChatClient } from "../upstream/wechat-client.js";
import type { PlatformStore } from "../platform/store.js";

export const LIST_PATH = "/cgi-bin/component/api_get_authorizer_list";
/** WeChat's largest page. */
const LIST_PAGE = 500;

const LIST_ERRCODES: ErrcodeTable = { ...AUTHORIZER_TOKEN_ERRCODES, 40097: { kind: "permanent", meaning: "invalid arguments" } };

/** What a sync changed (SyncAuthorizers). */
export interface SyncResult {
  restored: number;
  updated: number;
  unchanged: number;
  missing: number;
}

export interface ListedAuthorizer {
  appId: string;
  refreshToken: string;
  /** When it authorized (ms since the epoch). */
  authTime: number;
}

/** Every page of the list; `withToken` makes a call with the component token (compare-and-refresh on a stale one). */
export async function readAuthorizerList(
  componentAppId: string,
  client: WeChatClient,
  clock: Clock,
  withToken: <T>(what: string, call: (token: string) => Promise<T>) => Promise<T>,
): Promise<ListedAuthorizer[]> {
  const out: ListedAuthorizer[] = [];
  for (let offset = 0; ; ) {
    const body = await withToken("get_authorizer_list", (token) =>
      client.request(LIST_PATH, {
        query: { component_access_token: token },
        body: { component_appid: componentAppId, offset, count: LIST_PAGE },
        redact: [token],
        errcodes: LIST_ERRCODES,
      }),
    );
    const list = body["list"];
    const total = body["total_count"];
    if (!Array.isArray(list) || typeof total !== "number") throw new UpstreamTransportError(LIST_PATH, "BAD_BODY", "answer lacks list or total_count");
    for (const raw of list) {
      const o = typeof raw === "object" && raw !== null ? (raw as Record<string, unknown>) : {};
      const appId = o["authorizer_appid"];
      const refreshToken = o["refresh_token"];
      if (typeof appId !== "string" || !APP_ID_PATTERN.test(appId) || typeof refreshToken !== "string" || refreshToken === "") continue;
      const authTime = typeof o["auth_time"] === "number" ? o["auth_time"] * 1000 : clock.now();
      out.push({ appId, refreshToken, authTime });
    }
    offset += list.length;
    if (list.length === 0 || offset >= total) return out;
  }
}

/** Accounts written per batch: one transaction (SQLite) or one pipeline (Redis) each. */
export const APPLY_BATCH = 500;

/**
 * Applies the list to the store, in batches; returns what changed and which
 * authorizers should retry at once. A record changed after the list was
 * first asked for (`readSince`: an authorization, a rotated refresh token) is
 * newer than the list and left alone; the store refuses to restore an
 * account whose de-authorization came after its listed authorization.
 * `applied` hears each batch's appids and the count done so far. Costs
 * O(listed + held) store work in N / APPLY_BATCH round trips for reads and
 * restorations.
 */
export async function applyAuthorizerList(
  store: PlatformStore,
  component: string,
  listed: readonly ListedAuthorizer[],
  now: number,
  readSince: number,
  applied?: (appIds: string[], done: number) => Promise<void> | void,
): Promise<{ result: SyncResult; retry: string[] }> {
  const result: SyncResult = { restored: 0, updated: 0, unchanged: 0, missing: 0 };
  const retry: string[] = [];
  for (let i = 0; i < listed.length; i += APPLY_BATCH) {
    const batch = listed.slice(i, i + APPLY_BATCH);
    const held = await store.authorizersOf(
      component,
      batch.map((b) => b.appId),
    );
    const fresh = batch.filter((item) => !held.has(item.appId));
    const saved = fresh.length > 0 ? await store.saveAuthorizers(component, fresh.map((item) => ({ appId: item.appId, refreshToken: item.refreshToken, status: "active" as const, authorizedAt: item.authTime, updatedAt: now }))) : [];
    fresh.forEach((item, j) => {
      if (saved[j]) {
        result.restored++;
        retry.push(item.appId);
      } else {
        result.unchanged++;
      }
    });
    for (const item of batch) {
      const h = held.get(item.appId);
      if (!h) continue;
      if (h.updatedAt > readSince) {
        result.unchanged++;
      } else if (h.refreshToken !== item.refreshToken || h.status !== "active") {
        // A listed refresh token is one WeChat holds valid: worth another try even if it was refused once.
        const changed = await store.updateAuthorizer(component, item.appId, h.refreshToken, { refreshToken: item.refreshToken, status: "active", updatedAt: now });
        if (changed && h.refreshToken !== item.refreshToken) result.updated++;
        else result.unchanged++;
        retry.push(item.appId);
      } else {
        result.unchanged++;
      }
    }
    await applied?.(
      fresh.filter((_, j) => saved[j]).map((item) => item.appId),
      Math.min(i + APPLY_BATCH, listed.length),
    );
  }
  const names = new Set(listed.map((l) => l.appId));
  for (const held of (await store.authorizers(component)).values()) {
    if (names.has(held.appId) || held.updatedAt > readSince) continue;
    result.missing++;
    if (held.status === "active") await store.updateAuthorizer(component, held.appId, held.refreshToken, { status: "needs_reauthorization", updatedAt: now });
  }
  return { result, retry };
}

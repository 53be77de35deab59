/**
 * What every ticket issuer shares: a ticket is fetched with its parent
 * token; when WeChat says that token is stale (40001/40014/42001, or the
 * errcodes the caller names), the parent is compare-and-refreshed (no
 * refresh if someone already replaced it) and the ticket fetch is retried once.
 */
import { WxTokenError } from "../errors.js";
import { NoValidTokenError, SameTokenError } from "../core/errors.js";
import type { CredentialRecord } from "../core/credential-id.js";
import type { FetchContext, Fetched, ParentToken } from "../core/issuer.js";
import { STALE_TOKEN_ERRCODES, UpstreamTransportError, WeChatError, isUpstreamError } from "../upstream/errors.js";
import { QuotaGuardError } from "../core/quota-guard.js";

export async function fetchWithParent<T = Fetched>(
  ctx: Pick<FetchContext, "extraCall" | "parent">,
  endpoint: string,
  caller: string,
  call: (token: string) => Promise<T>,
  /** The errcodes that mean the parent token is stale: a WeCom suite token's are 42009 and 40082. */
  stale: ReadonlySet<number> = STALE_TOKEN_ERRCODES,
): Promise<T> {
  const parent: ParentToken | undefined = ctx.parent;
  if (!parent) throw new UpstreamTransportError(endpoint, "CONNECT", "no parent token linked (a bug: the issuer names no parent)");
  const token = await parentToken(endpoint, () => parent.get());
  try {
    return await call(token.value);
  } catch (err) {
    if (!(err instanceof WeChatError) || !stale.has(err.errcode)) throw err;
    const fresh = await parentToken(endpoint, async () => {
      try {
        // WeChat refused the token to us just now: no need to ask it again (see src/core/stale-check.ts).
        return (await parent.forceRefresh(token.value, caller, true)).token;
      } catch (e) {
        // WeChat handed back the same token: it still vouches for it, so the retry uses it.
        if (e instanceof SameTokenError) return token;
        throw e;
      }
    });
    ctx.extraCall();
    return call(fresh.value);
  }
}

/** The parent token, or the reason there is none as an error a refresher can retry on. */
async function parentToken(endpoint: string, get: () => Promise<CredentialRecord>): Promise<CredentialRecord> {
  try {
    return await get();
  } catch (err) {
    const cause = err instanceof NoValidTokenError ? err.upstream : err;
    // A transport failure of the parent cost the ticket nothing: it must not
    // count against the ticket's budgets nor look like a lost ticket answer.
    if (cause instanceof UpstreamTransportError) throw new UpstreamTransportError(endpoint, "CONNECT", `no parent token: ${cause.message}`);
    if (isUpstreamError(cause) || cause instanceof QuotaGuardError) throw cause;
    // Shutting down, removed, or the same token again: nothing was asked of WeChat.
    const why = err instanceof WxTokenError ? err.message : String(err);
    throw new UpstreamTransportError(endpoint, "CONNECT", `no parent token: ${why}`);
  }
}

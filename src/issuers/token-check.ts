/**
 * The call that tells, at no token quota, whether WeChat takes an access
 * token: GET /cgi-bin/getcallbackip?access_token= (Official Accounts, Mini
 * Programs, Open Platform authorizers on api.weixin.qq.com; WeCom has the
 * same path on qyapi.weixin.qq.com). It only lists WeChat's callback IPs and
 * costs nothing from the token quota. Used inside the ForceRefresh minimum
 * interval (src/core/stale-check.ts).
 */
import { STALE_TOKEN_ERRCODES, WeChatError, type ErrcodeTable } from "../upstream/errors.js";
import type { WeChatClient } from "../upstream/wechat-client.js";

export const CALLBACK_IP_PATH = "/cgi-bin/getcallbackip";

/** What getcallbackip's errcodes mean here: the stale ones answer the question; the others leave it open. */
const CHECK_ERRCODES: ErrcodeTable = {
  [-1]: { kind: "transient", meaning: "system busy" },
  40001: { kind: "transient", meaning: "access_token invalid or not latest" },
  40014: { kind: "transient", meaning: "invalid access_token" },
  42001: { kind: "transient", meaning: "access_token expired" },
  45009: { kind: "quota", meaning: "API daily limit reached" },
};

/** One function per client, shared by every issuer using it (a platform may hold 100,000 authorizers). */
const checks = new WeakMap<WeChatClient, (value: string) => Promise<boolean>>();

/** An issuer's `check`: true when WeChat answers getcallbackip with the value, false when it refuses it as stale; throws otherwise. */
export function callbackIpCheck(client: WeChatClient): (value: string) => Promise<boolean> {
  let check = checks.get(client);
  if (!check) {
    check = async (value) => {
      try {
        await client.request(CALLBACK_IP_PATH, { query: { access_token: value }, redact: [value], errcodes: CHECK_ERRCODES });
        return true;
      } catch (err) {
        if (err instanceof WeChatError && STALE_TOKEN_ERRCODES.has(err.errcode)) return false;
        throw err;
      }
    };
    checks.set(client, check);
  }
  return check;
}

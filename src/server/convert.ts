import type { Token } from "../../generated/wxtoken/v1/token_service.js";
import type { TokenRecord } from "../token/token.js";

export function toProtoToken(t: TokenRecord): Token {
  return {
    appId: t.appId,
    accessToken: t.accessToken,
    version: t.version,
    obtainedAt: new Date(t.obtainedAt),
    expiresAt: new Date(t.expiresAt),
    refreshAt: new Date(t.refreshAt),
    fingerprint: t.fingerprint,
  };
}

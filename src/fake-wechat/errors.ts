/**
 * WeChat's error bodies: `{"errcode":N,"errmsg":"<text> rid: <id>"}`, always
 * with HTTP 200. The texts are the ones real responses carry, so log parsing and
 * rid extraction are exercised against realistic strings.
 */
import { randomBytes } from "node:crypto";
import type { Clock } from "../clock.js";

/** Default errmsg per errcode (without the rid, which is appended per request). */
export const ERRMSG: Readonly<Record<number, string>> = {
  [-1]: "system error",
  40001: "invalid credential, access_token is invalid or not latest",
  40002: "invalid grant_type",
  40013: "invalid appid",
  40014: "invalid access_token",
  40125: "invalid appsecret",
  // {ip} is replaced by the caller's address, as WeChat names it.
  40164: "invalid ip {ip} ipv6 ::ffff:{ip}, not in whitelist",
  40243: "AppSecret已被冻结，请登录MP解冻后再次调用。",
  41001: "access_token missing",
  41002: "appid missing",
  41004: "appsecret missing",
  42001: "access_token expired",
  43002: "require POST method",
  45009: "reach max api daily quota limit, could get access_token by getStableAccessToken, more details at https://mmbizurl.cn/s/JtxxFh33r",
  45011: "API minute-quota reach limit  must slower  retry next minute",
  47001: "data format error",
  48006: "forbid to clear quota because of reaching the limit",
  50004: "user limited",
  50007: "account freezed",
  76021: "cgi_path not found, please check",
  89501: "此IP正在等待管理员确认,请联系管理员",
  89503: "此IP调用需要管理员确认,请联系管理员",
  89506: "24小时内该IP被管理员拒绝调用两次，24小时内不可再使用该IP调用",
  89507: "1小时内该IP被管理员拒绝调用一次，1小时内不可再使用该IP调用",
};

/** A per-request id shaped like WeChat's: hex seconds, then two random hex words. */
export function rid(clock: Clock): string {
  const seconds = Math.floor(clock.now() / 1000).toString(16).padStart(8, "0").slice(-8);
  return `${seconds}-${randomBytes(4).toString("hex")}-${randomBytes(4).toString("hex")}`;
}

export interface ErrorBody {
  errcode: number;
  errmsg: string;
}

/** The error body for errcode, with errmsg (or the default text) and a fresh rid. */
export function errorBody(clock: Clock, errcode: number, errmsg?: string, callerIp = "127.0.0.1"): ErrorBody {
  const text = errmsg ?? (ERRMSG[errcode] ?? "unknown error").replaceAll("{ip}", callerIp);
  return { errcode, errmsg: `${text} rid: ${rid(clock)}` };
}

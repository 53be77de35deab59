/**
 * The JS-SDK signature algorithms, for checking a signature the server made
 * (the server signs with these too). They are WeChat's (and WeCom's, the same):
 *   wx.config / wx.agentConfig: sha1("jsapi_ticket=T&noncestr=N&timestamp=TS&url=U"),
 *     keys in that ASCII order, U the page URL without its #fragment;
 *   cards (wx.addCard, wx.chooseCard): sha1 of the values (api_ticket,
 *     timestamp, nonce_str and the card fields) sorted as strings and concatenated.
 * Lowercase hex.
 */
import { createHash } from "node:crypto";

const sha1 = (text: string) => createHash("sha1").update(text, "utf8").digest("hex");

export function pageSignature(ticket: string, nonceStr: string, timestamp: number, url: string): string {
  return sha1(`jsapi_ticket=${ticket}&noncestr=${nonceStr}&timestamp=${timestamp}&url=${url}`);
}

export function cardSignature(apiTicket: string, nonceStr: string, timestamp: number, values: readonly string[]): string {
  return sha1([apiTicket, String(timestamp), nonceStr, ...values].sort().join(""));
}

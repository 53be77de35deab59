/**
 * The envelope of a pushed message, in WeChat's WXBizMsgCrypt scheme: the
 * Open Platform's `POST url?timestamp=&nonce=&encrypt_type=aes&msg_signature=`
 * with `<xml><AppId/><Encrypt/></xml>`, or a WeCom suite's (指令回调) with
 * `<xml><ToUserName/><Encrypt/><AgentID/></xml>` and no encrypt_type; the
 * receiver id (the component appid, the suite id) is checked in both.
 * openPush() is what a receiver does (size-limited parse, signature, decrypt,
 * parse the inner message); sealPush() is what WeChat does (the fake uses it).
 */
import { randomBytes } from "node:crypto";
import { assertSignature, computeSignature, decrypt, encrypt, WrongReceiverError } from "./crypto.js";
import { cdata, parsePushXml, PushXmlError } from "./xml.js";

export interface PushKeys {
  /** The platform's message-verification Token. */
  token: string;
  /** The 43-character EncodingAESKey. */
  encodingAesKey: string;
  /** The receiver id inside every message, and in the envelope: the component appid (Open Platform) or the suite id (WeCom). */
  receiverId: string;
}

export interface PushQuery {
  timestamp: string;
  nonce: string;
  msgSignature: string;
  encryptType?: string;
}

/** The query a push carries, from a request URL's search params; undefined fields missing. */
export function pushQueryOf(params: URLSearchParams): Partial<PushQuery> {
  const get = (name: string) => params.get(name) ?? undefined;
  return { timestamp: get("timestamp"), nonce: get("nonce"), msgSignature: get("msg_signature"), encryptType: get("encrypt_type") };
}

/**
 * The decrypted message's fields (InfoType, ComponentVerifyTicket, ...).
 * Throws PushXmlError (either XML layer, or a missing query field) or a
 * PushCryptoError (bad signature, bad base64, padding, length, receiver).
 */
export function openPush(keys: PushKeys, query: Partial<PushQuery>, body: string | Buffer): Record<string, string> {
  const { timestamp, nonce, msgSignature } = query;
  if (!timestamp || !nonce || !msgSignature) throw new PushXmlError("push query lacks timestamp, nonce or msg_signature");
  if (query.encryptType !== undefined && query.encryptType !== "aes") throw new PushXmlError("push encrypt_type is not aes");
  const outer = parsePushXml(body, { maxBytes: 65_536, maxFields: 8 });
  const encrypted = outer["Encrypt"];
  if (encrypted === undefined) throw new PushXmlError("push has no Encrypt field");
  assertSignature(keys.token, timestamp, nonce, encrypted, msgSignature);
  // The Open Platform names the receiver in <AppId>, WeCom in <ToUserName>.
  const named = outer["AppId"] ?? outer["ToUserName"];
  if (named !== undefined && named !== keys.receiverId) throw new WrongReceiverError();
  return parsePushXml(decrypt(keys.encodingAesKey, encrypted, keys.receiverId), { maxBytes: 65_536, maxFields: 32 });
}

export interface SealedPush {
  /** timestamp, nonce, encrypt_type=aes, msg_signature. */
  query: URLSearchParams;
  body: string;
}

/** The inner message XML for these fields (all CDATA except the numeric CreateTime and *ExpiredTime ones). */
export function messageXml(fields: Record<string, string | number>): string {
  const parts = Object.entries(fields).map(([name, value]) => `<${name}>${typeof value === "number" ? String(value) : cdata(value)}</${name}>`);
  return `<xml>${parts.join("")}</xml>`;
}

/**
 * How the envelope names its receiver: the Open Platform's `<AppId>` with
 * `encrypt_type=aes` in the query, or WeCom's (a suite's 指令回调):
 * `<ToUserName>` (the suite id), `<Encrypt>` and an empty `<AgentID>`, and no
 * encrypt_type. The receiver id inside the encrypted message is the same one.
 */
export type PushEnvelope = "open-platform" | "wecom";

/** Encrypts and signs xml as WeChat (or WeCom, with envelope "wecom") would push it; keys.receiverId names the receiver. */
export function sealPush(
  keys: PushKeys,
  xml: string,
  timestampSeconds: number,
  nonce = String(randomBytes(4).readUInt32BE(0)),
  envelope: PushEnvelope = "open-platform",
): SealedPush {
  const encrypted = encrypt(keys.encodingAesKey, xml, keys.receiverId);
  const timestamp = String(timestampSeconds);
  const msg_signature = computeSignature(keys.token, timestamp, nonce, encrypted);
  if (envelope === "wecom") {
    const body = `<xml><ToUserName>${cdata(keys.receiverId)}</ToUserName><Encrypt>${cdata(encrypted)}</Encrypt><AgentID>${cdata("")}</AgentID></xml>`;
    return { query: new URLSearchParams({ msg_signature, timestamp, nonce }), body };
  }
  const query = new URLSearchParams({ timestamp, nonce, encrypt_type: "aes", msg_signature });
  return { query, body: `<xml><AppId>${cdata(keys.receiverId)}</AppId><Encrypt>${cdata(encrypted)}</Encrypt></xml>` };
}

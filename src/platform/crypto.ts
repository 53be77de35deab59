/**
 * WeChat's message encryption for Open Platform pushes (the same scheme as
 * WeCom callbacks): msg_signature = sha1 of the sorted [token, timestamp,
 * nonce, Encrypt]; Encrypt = base64(AES-256-CBC(random16 | len32be | xml |
 * receiverId | PKCS#7 padding to 32 bytes)), key = base64(EncodingAESKey+"="),
 * IV = the key's first 16 bytes.
 *
 * Library choice: written here on node:crypto rather than npm's
 * `@wecom/crypto` (1.0.1) or `wechat-crypto` (0.0.2). Both implement the same
 * scheme in ~100 lines, but both are lenient where a receiver must be strict:
 * a last byte outside 1..32 is "no padding" instead of an error, the other pad
 * bytes are never checked, the 4-byte length is trusted without bounds (a
 * huge L silently yields a short message), the receiver id is returned but
 * never compared, Buffer's base64 decoding skips junk characters, and neither
 * offers a constant-time signature comparison. `wechat-crypto` also uses the
 * deprecated `new Buffer` and `pseudoRandomBytes`. Neither has typed,
 * distinguishable errors. The code is small enough that owning it costs less
 * than wrapping and re-checking a dependency. The tests check this module
 * against a vector produced by `@wecom/crypto` (and decrypted by
 * `wechat-crypto`) outside this repo, pasted in as literals.
 *
 * No error message here carries key material, plaintext, or the token.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes, timingSafeEqual } from "node:crypto";

export type PushCryptoErrorCode = "bad_key" | "bad_signature" | "bad_base64" | "bad_ciphertext" | "bad_padding" | "length_mismatch" | "wrong_receiver";

export class PushCryptoError extends Error {
  constructor(
    readonly code: PushCryptoErrorCode,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}
/** The EncodingAESKey is not 43 base64 characters decoding to 32 bytes. */
export class BadKeyError extends PushCryptoError {
  constructor() {
    super("bad_key", "EncodingAESKey must be 43 base64 characters (32 bytes)");
  }
}
/** msg_signature does not match. */
export class BadSignatureError extends PushCryptoError {
  constructor() {
    super("bad_signature", "msg_signature does not match");
  }
}
/** Encrypt is not canonical base64. */
export class BadBase64Error extends PushCryptoError {
  constructor() {
    super("bad_base64", "Encrypt is not valid base64");
  }
}
/** The ciphertext is empty or not whole AES blocks. */
export class BadCiphertextError extends PushCryptoError {
  constructor(length: number) {
    super("bad_ciphertext", `ciphertext of ${length} bytes is not a positive multiple of 16`);
  }
}
/** The decrypted block does not end in PKCS#7 padding of 1..32 equal bytes (usually: the wrong key). */
export class BadPaddingError extends PushCryptoError {
  constructor() {
    super("bad_padding", "decrypted message has bad padding");
  }
}
/** The 4-byte length claims more bytes than the message has. */
export class LengthMismatchError extends PushCryptoError {
  constructor(claimed: number, available: number) {
    super("length_mismatch", `message length ${claimed} exceeds the ${available} bytes available`);
  }
}
/** The message was encrypted for another receiver (component appid / corpid). */
export class WrongReceiverError extends PushCryptoError {
  constructor() {
    super("wrong_receiver", "message receiver id does not match");
  }
}

const KEY_RE = /^[A-Za-z0-9+/]{43}$/;
const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const BLOCK = 32;

/** The AES key of an EncodingAESKey; throws BadKeyError. */
export function aesKeyOf(encodingAesKey: string): Buffer {
  if (!KEY_RE.test(encodingAesKey)) throw new BadKeyError();
  const key = Buffer.from(`${encodingAesKey}=`, "base64");
  if (key.length !== 32) throw new BadKeyError();
  return key;
}

/** msg_signature: lowercase hex sha1 of the four strings sorted and joined. */
export function computeSignature(token: string, timestamp: string, nonce: string, encrypt: string): string {
  return createHash("sha1").update([token, timestamp, nonce, encrypt].sort().join("")).digest("hex");
}

/** Whether msgSignature is right (constant-time; hex case ignored). */
export function verifySignature(token: string, timestamp: string, nonce: string, encrypt: string, msgSignature: string): boolean {
  const expected = Buffer.from(computeSignature(token, timestamp, nonce, encrypt), "latin1");
  const given = Buffer.from(msgSignature.toLowerCase(), "latin1");
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** Like verifySignature but throws BadSignatureError. */
export function assertSignature(token: string, timestamp: string, nonce: string, encrypt: string, msgSignature: string): void {
  if (!verifySignature(token, timestamp, nonce, encrypt, msgSignature)) throw new BadSignatureError();
}

/**
 * The XML inside Encrypt, after checking that it was encrypted for receiverId.
 * Throws BadKeyError, BadBase64Error, BadCiphertextError, BadPaddingError,
 * LengthMismatchError or WrongReceiverError.
 */
export function decrypt(encodingAesKey: string, encrypt: string, receiverId: string): string {
  const key = aesKeyOf(encodingAesKey);
  if (!BASE64_RE.test(encrypt)) throw new BadBase64Error();
  const cipherText = Buffer.from(encrypt, "base64");
  if (cipherText.length === 0 || cipherText.length % 16 !== 0) throw new BadCiphertextError(cipherText.length);
  const decipher = createDecipheriv("aes-256-cbc", key, key.subarray(0, 16));
  decipher.setAutoPadding(false);
  const padded = Buffer.concat([decipher.update(cipherText), decipher.final()]);

  const pad = padded[padded.length - 1]!;
  if (pad < 1 || pad > BLOCK || pad > padded.length) throw new BadPaddingError();
  for (let i = padded.length - pad; i < padded.length; i++) if (padded[i] !== pad) throw new BadPaddingError();
  const plain = padded.subarray(0, padded.length - pad);

  if (plain.length < 20) throw new LengthMismatchError(0, Math.max(0, plain.length - 20));
  const length = plain.readUInt32BE(16);
  const available = plain.length - 20;
  if (length > available) throw new LengthMismatchError(length, available);
  const receiver = plain.subarray(20 + length);
  const expected = Buffer.from(receiverId, "utf8");
  if (expected.length === 0 || !receiver.equals(expected)) throw new WrongReceiverError();
  return plain.subarray(20, 20 + length).toString("utf8");
}

/** Encrypt for receiverId (what WeChat does; used by the fake and tests). `random` defaults to 16 fresh bytes. */
export function encrypt(encodingAesKey: string, xml: string, receiverId: string, random: Buffer = randomBytes(16)): string {
  const key = aesKeyOf(encodingAesKey);
  if (random.length !== 16) throw new RangeError("random must be 16 bytes");
  const message = Buffer.from(xml, "utf8");
  const length = Buffer.alloc(4);
  length.writeUInt32BE(message.length, 0);
  const plain = Buffer.concat([random, length, message, Buffer.from(receiverId, "utf8")]);
  const pad = BLOCK - (plain.length % BLOCK);
  const cipher = createCipheriv("aes-256-cbc", key, key.subarray(0, 16));
  cipher.setAutoPadding(false);
  return Buffer.concat([cipher.update(Buffer.concat([plain, Buffer.alloc(pad, pad)])), cipher.final()]).toString("base64");
}

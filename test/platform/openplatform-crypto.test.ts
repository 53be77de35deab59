/**
 * Open Platform push crypto: signature, AES decrypt/encrypt, and a named
 * error for each malformed input class, never carrying key material.
 */
import { createCipheriv, createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  aesKeyOf,
  BadBase64Error,
  BadCiphertextError,
  BadKeyError,
  BadPaddingError,
  BadSignatureError,
  computeSignature,
  decrypt,
  encrypt,
  LengthMismatchError,
  PushCryptoError,
  verifySignature,
  WrongReceiverError,
  assertSignature,
} from "../../src/platform/crypto.js";

const KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
const APPID = "wx1234567890abcdef";
const XML =
  "<xml><AppId><![CDATA[wx1234567890abcdef]]></AppId><CreateTime>1413192605</CreateTime><InfoType><![CDATA[component_verify_ticket]]></InfoType><ComponentVerifyTicket><![CDATA[ticket@@@vector]]></ComponentVerifyTicket></xml>";
/** Produced outside this repo by @wecom/crypto's encrypt(KEY, XML, APPID, Buffer.from("0123456789abcdef")), and decrypted back by wechat-crypto. */
const VECTOR =
  "Q3stYC6hdFzMh9T8HCvyDIm76AfRLlU7WLr+uEdJBtbota+4gS1jgfTxhmH9MGICyH12Y/EXBf5Vr1agw5uEScTVSmCZFVhAs65oN8T1Bh6QVsDkfCTJ+YTgqBUiZx60cdF+dV4lXW118t3HUsoKzAX7PbGFT4K/5vsTYETnazrzLY+lSd1WWIb0InrGcS7ehOlVVqKbfiZbWvEEYywm+OcZ7BompQN92bHq0JyvpgCADtnQSjida2Si3C5aPjCYZhMQXwBdtOHKdOsML8WQWh1wT898FMNqBr5exmEMlb5slb07d3yf5iSi2Q88Kb9BjIhJl4f59Ek7NE5syufIDFevb3JmyYDlZ9uJO51HQQG5kYqty2YyEMN//+y/GegX";
/** @wecom/crypto's getSignature("vector-token", "1413192605", "372466812", VECTOR). */
const VECTOR_SIGNATURE = "c7f0bdc998752b62f18994f2223c3f27d0c01858";

/** Encrypts an arbitrary plaintext block by hand (no padding added), for malformed-input cases. */
function rawEncrypt(plain: Buffer): string {
  const key = Buffer.from(`${KEY}=`, "base64");
  const c = createCipheriv("aes-256-cbc", key, key.subarray(0, 16));
  c.setAutoPadding(false);
  return Buffer.concat([c.update(plain), c.final()]).toString("base64");
}

function frame(xml: string, receiver: string, claimedLength = Buffer.byteLength(xml)): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(claimedLength);
  return Buffer.concat([Buffer.alloc(16, 7), len, Buffer.from(xml), Buffer.from(receiver)]);
}

function pad(b: Buffer): Buffer {
  const n = 32 - (b.length % 32);
  return Buffer.concat([b, Buffer.alloc(n, n)]);
}

describe("signature", () => {
  it("is the sha1 of the four strings sorted, matching an independently computed one", () => {
    const literal = createHash("sha1").update(["1413192605", "372466812", VECTOR, "vector-token"].sort().join("")).digest("hex");
    expect(computeSignature("vector-token", "1413192605", "372466812", VECTOR)).toBe(literal);
    expect(literal).toBe(VECTOR_SIGNATURE);
    expect(verifySignature("vector-token", "1413192605", "372466812", VECTOR, VECTOR_SIGNATURE)).toBe(true);
    expect(verifySignature("vector-token", "1413192605", "372466812", VECTOR, VECTOR_SIGNATURE.toUpperCase())).toBe(true);
  });

  it("rejects any changed input, a short signature and garbage", () => {
    expect(verifySignature("other-token", "1413192605", "372466812", VECTOR, VECTOR_SIGNATURE)).toBe(false);
    expect(verifySignature("vector-token", "1413192606", "372466812", VECTOR, VECTOR_SIGNATURE)).toBe(false);
    expect(verifySignature("vector-token", "1413192605", "372466812", VECTOR, VECTOR_SIGNATURE.slice(1))).toBe(false);
    expect(verifySignature("vector-token", "1413192605", "372466812", VECTOR, "")).toBe(false);
    expect(() => assertSignature("vector-token", "1", "2", VECTOR, "ff")).toThrow(BadSignatureError);
  });
});

describe("decrypt", () => {
  it("decrypts the external vector and checks its receiver", () => {
    expect(decrypt(KEY, VECTOR, APPID)).toBe(XML);
    expect(() => decrypt(KEY, VECTOR, "wx0000000000000000")).toThrow(WrongReceiverError);
  });

  it("round-trips, including multi-byte text and every padding length", () => {
    for (let extra = 0; extra < 40; extra++) {
      const xml = `<xml><A><![CDATA[中控${"x".repeat(extra)}]]></A></xml>`;
      expect(decrypt(KEY, encrypt(KEY, xml, APPID), APPID)).toBe(xml);
    }
  });

  it("is deterministic for a given random prefix, and equal to the vector", () => {
    expect(encrypt(KEY, XML, APPID, Buffer.from("0123456789abcdef"))).toBe(VECTOR);
  });

  it("names each malformed input class", () => {
    expect(() => decrypt(KEY, "not base64!", APPID)).toThrow(BadBase64Error);
    expect(() => decrypt(KEY, VECTOR.slice(0, -1), APPID)).toThrow(BadBase64Error);
    expect(() => decrypt(KEY, "", APPID)).toThrow(BadCiphertextError);
    expect(() => decrypt(KEY, Buffer.alloc(20).toString("base64"), APPID)).toThrow(BadCiphertextError);
    // A wrong key decrypts to noise: the padding check catches it (overwhelmingly likely).
    expect(() => decrypt("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefg", VECTOR, APPID)).toThrow(BadPaddingError);
    // Last byte 0, 33, and a pad whose other bytes disagree.
    const body = frame("<xml/>", APPID);
    const zero = Buffer.concat([body, Buffer.alloc(64 - body.length, 0)]);
    expect(() => decrypt(KEY, rawEncrypt(zero), APPID)).toThrow(BadPaddingError);
    const big = Buffer.concat([body, Buffer.alloc(64 - body.length, 33)]);
    expect(() => decrypt(KEY, rawEncrypt(big), APPID)).toThrow(BadPaddingError);
    const mixed = pad(body);
    mixed[mixed.length - 2] = 1;
    expect(() => decrypt(KEY, rawEncrypt(mixed), APPID)).toThrow(BadPaddingError);
    // A length beyond the message, and a message shorter than its 20-byte header.
    expect(() => decrypt(KEY, rawEncrypt(pad(frame("<xml/>", APPID, 10_000))), APPID)).toThrow(LengthMismatchError);
    expect(() => decrypt(KEY, rawEncrypt(pad(Buffer.alloc(10, 1))), APPID)).toThrow(LengthMismatchError);
    // No receiver at all, and one that only starts the same.
    expect(() => decrypt(KEY, rawEncrypt(pad(frame("<xml/>", ""))), APPID)).toThrow(WrongReceiverError);
    expect(() => decrypt(KEY, rawEncrypt(pad(frame("<xml/>", `${APPID}x`))), APPID)).toThrow(WrongReceiverError);
    expect(decrypt(KEY, rawEncrypt(pad(frame("<xml/>", APPID))), APPID)).toBe("<xml/>");
  });

  it("rejects bad keys without echoing them, and never puts key material in any error", () => {
    for (const bad of ["", KEY.slice(1), `${KEY}A`, `${KEY.slice(0, 42)}!`]) expect(() => aesKeyOf(bad)).toThrow(BadKeyError);
    const errors: unknown[] = [];
    for (const f of [() => decrypt(`${KEY.slice(0, 42)}!`, VECTOR, APPID), () => decrypt(KEY, "%%", APPID), () => decrypt("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefg", VECTOR, APPID), () => decrypt(KEY, VECTOR, "wx0")]) {
      try {
        f();
      } catch (err) {
        errors.push(err);
      }
    }
    expect(errors).toHaveLength(4);
    for (const err of errors) {
      expect(err).toBeInstanceOf(PushCryptoError);
      const text = `${(err as Error).message} ${(err as Error).stack}`;
      expect(text).not.toContain(KEY.slice(0, 10));
      expect(text).not.toContain("ABCDEFGHIJ");
      expect(text).not.toContain("ticket@@@");
    }
  });
});

import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { cardSignature, nonceStr, pageSignature, pageUrl } from "../../src/core/jssdk.js";

describe("JS-SDK signatures", () => {
  it("matches the worked example of WeChat's JS-SDK documentation (appendix 1)", () => {
    const ticket = "sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg";
    expect(pageSignature(ticket, "Wm3WZYTPz0wzccnW", 1414587457, "http://mp.weixin.qq.com?params=value")).toBe("0f9de62fce790f9a083d5c99e95740ceb90c27ed");
  });

  it("signs a card call with the sorted, concatenated values", () => {
    // Written out by hand: the values sorted as strings are "1700000000" < "card-1" < "nonce" < "o-user" < "ticket".
    const expected = createHash("sha1").update("1700000000card-1nonceo-userticket").digest("hex");
    expect(cardSignature("ticket", "nonce", 1700000000, ["card-1", "o-user"])).toBe(expected);
  });

  it("makes 16-character alphanumeric nonces, different each time", () => {
    const a = nonceStr();
    expect(a).toMatch(/^[A-Za-z0-9]{16}$/);
    expect(nonceStr()).not.toBe(a);
  });
});

describe("the page URL to sign", () => {
  it("drops the #fragment and keeps the rest exactly (no normalisation: WeChat compares it with location.href)", () => {
    expect(pageUrl("https://h5.example.com/a/b?x=1&y=%20#/route?z", [])).toBe("https://h5.example.com/a/b?x=1&y=%20");
    expect(pageUrl("http://h5.example.com:8080/", [])).toBe("http://h5.example.com:8080/");
  });

  it.each([
    ["", "url is required"],
    ["/relative/page", "absolute http"],
    ["ftp://h5.example.com/", "http:// or https://"],
    ["javascript:alert(1)", "http:// or https://"],
    ["https://h5.example.com/a b", "whitespace"],
    [`https://h5.example.com/${"a".repeat(5000)}`, "longer than"],
  ])("refuses %j with INVALID_URL", (url, message) => {
    try {
      pageUrl(url, []);
      expect.unreachable();
    } catch (err) {
      expect(err).toMatchObject({ reason: "INVALID_URL", category: "invalid" });
      expect((err as Error).message).toContain(message);
    }
  });

  it("refuses an origin outside the app's allowed origins with ORIGIN_NOT_ALLOWED", () => {
    const allowed = ["https://h5.example.com"];
    expect(pageUrl("https://h5.example.com/pay?id=1#x", allowed)).toBe("https://h5.example.com/pay?id=1");
    for (const url of ["https://evil.example.com/", "http://h5.example.com/", "https://h5.example.com:8443/"]) {
      expect(() => pageUrl(url, allowed)).toThrow(expect.objectContaining({ reason: "ORIGIN_NOT_ALLOWED", category: "denied" }));
    }
  });
});

/** The strict flat-XML reader for pushes, with hostile inputs. */
import { describe, expect, it } from "vitest";
import { cdata, parsePushXml, PushXmlError } from "../../src/platform/xml.js";

const TICKET =
  "<xml><AppId><![CDATA[wx1234567890abcdef]]></AppId><CreateTime>1413192605</CreateTime><InfoType><![CDATA[component_verify_ticket]]></InfoType><ComponentVerifyTicket><![CDATA[ticket@@@abc]]></ComponentVerifyTicket></xml>";

describe("parsePushXml", () => {
  it("reads CDATA and plain fields", () => {
    expect(parsePushXml(TICKET)).toEqual({ AppId: "wx1234567890abcdef", CreateTime: "1413192605", InfoType: "component_verify_ticket", ComponentVerifyTicket: "ticket@@@abc" });
  });

  it("accepts whitespace, a declaration, a BOM, a Buffer, empty and self-closed fields, entities and split CDATA", () => {
    const xml = `\uFEFF<?xml version="1.0" encoding="utf-8"?>\n<xml>\n  <A>1 &lt; 2 &amp;&#x4e2d;&#25511;</A>\n  <B></B>\n  <C/>\n  <D>${cdata("a]]>b")}</D>\n</xml>\n`;
    expect(parsePushXml(Buffer.from(xml))).toEqual({ A: "1 < 2 &中控", B: "", C: "", D: "a]]>b" });
  });

  it("returns a plain object without prototype surprises", () => {
    const r = parsePushXml("<xml><__proto__>x</__proto__><constructor>y</constructor></xml>");
    expect(Object.keys(r).sort()).toEqual(["__proto__", "constructor"]);
    expect(({} as Record<string, unknown>)["polluted"]).toBeUndefined();
  });

  const hostile: Array<[string, string]> = [
    ["a DOCTYPE with an entity", '<!DOCTYPE xml [<!ENTITY x "boom">]><xml><A>&x;</A></xml>'],
    ["a DOCTYPE inside the root", '<xml><!DOCTYPE x><A>1</A></xml>'],
    ["an external entity reference", "<xml><A>&xxe;</A></xml>"],
    ["a bare ampersand", "<xml><A>a & b</A></xml>"],
    ["a NUL character reference", "<xml><A>&#0;</A></xml>"],
    ["a surrogate character reference", "<xml><A>&#xD800;</A></xml>"],
    ["nesting", "<xml><A><B>1</B></A></xml>"],
    ["an attribute", '<xml><A x="1">1</A></xml>'],
    ["an attribute on the root", '<xml a="1"><A>1</A></xml>'],
    ["another root", "<root><A>1</A></root>"],
    ["a repeated field", "<xml><A>1</A><A>2</A></xml>"],
    ["a mismatched end tag", "<xml><A>1</B></xml>"],
    ["an unclosed CDATA", "<xml><A><![CDATA[abc</A></xml>"],
    ["a comment", "<xml><!-- hi --><A>1</A></xml>"],
    ["a comment in a field", "<xml><A>1<!-- hi --></A></xml>"],
    ["a processing instruction", "<xml><?php echo 1 ?><A>1</A></xml>"],
    ["text after the root", "<xml><A>1</A></xml>junk"],
    ["a second root", "<xml></xml><xml></xml>"],
    ["a truncated document", "<xml><A>1</A>"],
    ["a stray ]]> in text", "<xml><A>a]]>b</A></xml>"],
    ["text directly in the root", "<xml>hello<A>1</A></xml>"],
    ["empty input", ""],
  ];
  for (const [what, xml] of hostile) {
    it(`refuses ${what}`, () => {
      expect(() => parsePushXml(xml)).toThrow(PushXmlError);
    });
  }

  it("refuses huge input before parsing, and too many fields", () => {
    const huge = `<xml><A>${"x".repeat(70_000)}</A></xml>`;
    expect(() => parsePushXml(huge)).toThrow(/exceeds the limit/);
    expect(() => parsePushXml("<xml><A>1</A></xml>", { maxBytes: 10 })).toThrow(PushXmlError);
    const many = `<xml>${Array.from({ length: 65 }, (_, i) => `<F${i}>1</F${i}>`).join("")}</xml>`;
    expect(() => parsePushXml(many)).toThrow(/more than 64 fields/);
    const deep = `<xml>${"<A>".repeat(10_000)}${"</A>".repeat(10_000)}</xml>`;
    expect(() => parsePushXml(deep)).toThrow(PushXmlError);
  });

  it("does not echo content in its errors", () => {
    try {
      parsePushXml("<xml><Secret>s3cr3t-value<B/></Secret></xml>");
      expect.unreachable();
    } catch (err) {
      expect((err as Error).message).not.toContain("s3cr3t");
    }
  });
});

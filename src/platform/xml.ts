/**
 * The flat XML WeChat pushes: `<xml><Name>text</Name><Other><![CDATA[...]]></Other></xml>`,
 * read into a record of strings, strictly.
 *
 * Hand-written rather than fast-xml-parser: the format has one shape (a root
 * `xml` holding leaf elements), so a ~100-line scanner that accepts exactly
 * that shape and nothing else is easier to audit than configuring a general
 * parser into refusing everything else. A general parser accepts nesting,
 * attributes, repeated names (as arrays) and, depending on options and
 * version, DOCTYPE internal entities (fast-xml-parser has had entity-expansion
 * advisories); every one of those would need a check after parsing anyway.
 * This scanner refuses DOCTYPE, comments, processing instructions (except a
 * leading `<?xml ...?>` declaration), attributes, nesting, repeated fields,
 * unknown entities and oversized input before doing any work on them.
 *
 * Errors name the position and what was expected, never the content.
 */

export class PushXmlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PushXmlError";
  }
}

export interface ParseXmlOptions {
  /** UTF-8 bytes; default 64 KiB (a push is well under 2 KiB). */
  maxBytes?: number;
  /** default 64 */
  maxFields?: number;
}

const NAME = /[A-Za-z_][A-Za-z0-9_.-]*/y;
const DECL = /<\?xml(?:\s+[A-Za-z]+\s*=\s*(?:"[^"<>]*"|'[^'<>]*'))*\s*\?>/y;
const PREDEFINED: Readonly<Record<string, string>> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

/** Parses the flat push XML into field name -> text (CDATA and plain text alike). Throws PushXmlError. */
export function parsePushXml(input: string | Buffer, options: ParseXmlOptions = {}): Record<string, string> {
  const maxBytes = options.maxBytes ?? 65_536;
  const maxFields = options.maxFields ?? 64;
  const size = typeof input === "string" ? Buffer.byteLength(input, "utf8") : input.length;
  if (size > maxBytes) throw new PushXmlError(`XML of ${size} bytes exceeds the limit of ${maxBytes}`);
  const text = typeof input === "string" ? input : input.toString("utf8");
  const s = new Scanner(text.startsWith("\uFEFF") ? text.slice(1) : text);

  s.skipSpace();
  if (s.peek("<?")) {
    if (!s.match(DECL)) throw s.error("a well-formed <?xml ...?> declaration");
    s.skipSpace();
  }
  s.expect("<xml>", "the root element <xml>");
  const fields: Record<string, string> = Object.create(null) as Record<string, string>;
  let count = 0;
  for (;;) {
    s.skipSpace();
    if (s.peek("</")) break;
    s.expect("<", "a field element or </xml>");
    const name = s.name();
    if (s.peek("/>")) {
      s.expect("/>", "/>");
      add(fields, name, "", s, ++count, maxFields);
      continue;
    }
    s.expect(">", `">" (no attributes allowed)`);
    const value = s.content();
    s.expect("</", `the end of <${name}> (no nested elements allowed)`);
    if (s.name() !== name) throw s.error(`</${name}>`);
    s.expect(">", ">");
    add(fields, name, value, s, ++count, maxFields);
  }
  s.expect("</xml>", "</xml>");
  s.skipSpace();
  if (!s.atEnd()) throw s.error("the end of the document");
  return { ...fields };
}

function add(fields: Record<string, string>, name: string, value: string, s: Scanner, count: number, max: number): void {
  if (count > max) throw new PushXmlError(`more than ${max} fields`);
  if (Object.prototype.hasOwnProperty.call(fields, name)) throw s.error(`a field other than a repeated <${name}>`);
  fields[name] = value;
}

class Scanner {
  private pos = 0;
  constructor(private readonly text: string) {}

  atEnd(): boolean {
    return this.pos >= this.text.length;
  }

  peek(literal: string): boolean {
    return this.text.startsWith(literal, this.pos);
  }

  expect(literal: string, what: string): void {
    if (!this.peek(literal)) throw this.error(what);
    this.pos += literal.length;
  }

  match(re: RegExp): string | undefined {
    re.lastIndex = this.pos;
    const m = re.exec(this.text);
    if (!m) return undefined;
    this.pos += m[0].length;
    return m[0];
  }

  skipSpace(): void {
    while (this.pos < this.text.length && " \t\r\n".includes(this.text[this.pos]!)) this.pos++;
  }

  name(): string {
    const name = this.match(NAME);
    if (name === undefined) throw this.error("an element name");
    return name;
  }

  /** Text and CDATA sections up to the next tag; entities decoded, anything else markup-like refused. */
  content(): string {
    let out = "";
    for (;;) {
      if (this.peek("<![CDATA[")) {
        const end = this.text.indexOf("]]>", this.pos + 9);
        if (end < 0) throw this.error("the end of the CDATA section");
        out += this.text.slice(this.pos + 9, end);
        this.pos = end + 3;
        continue;
      }
      if (this.peek("<!") || this.peek("<?")) throw this.error("text or CDATA (no comments, DOCTYPE or processing instructions)");
      if (this.peek("<") || this.atEnd()) return out;
      const ch = this.text[this.pos]!;
      if (ch === "&") {
        out += this.entity();
        continue;
      }
      if (ch === "]" && this.peek("]]>")) throw this.error("text without ]]>");
      out += ch;
      this.pos++;
    }
  }

  private entity(): string {
    const end = this.text.indexOf(";", this.pos);
    const body = end < 0 || end - this.pos > 10 ? undefined : this.text.slice(this.pos + 1, end);
    let value: string | undefined;
    if (body !== undefined && PREDEFINED[body] !== undefined) value = PREDEFINED[body];
    else if (body !== undefined && /^#[0-9]{1,7}$/.test(body)) value = codePoint(Number(body.slice(1)));
    else if (body !== undefined && /^#x[0-9A-Fa-f]{1,6}$/.test(body)) value = codePoint(parseInt(body.slice(2), 16));
    if (value === undefined) throw this.error("one of the predefined entities or a character reference");
    this.pos = end + 1;
    return value;
  }

  error(expected: string): PushXmlError {
    return new PushXmlError(`malformed push XML at offset ${this.pos}: expected ${expected}`);
  }
}

function codePoint(n: number): string | undefined {
  if (n === 0 || n > 0x10ffff || (n >= 0xd800 && n <= 0xdfff)) return undefined;
  return String.fromCodePoint(n);
}

/** Escapes text for a CDATA section (splitting any "]]>"), for building pushes. */
export function cdata(text: string): string {
  return `<![CDATA[${text.replaceAll("]]>", "]]]]><![CDATA[>")}]]>`;
}

/**
 * Every link in README.md, CONTRIBUTING.md and docs/*.md resolves: a relative
 * link names a file or directory inside this repository, and a #fragment names
 * a heading of the target (GitHub's anchor slugs). External links are not
 * fetched.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = process.cwd();
const FILES = ["README.md", "CONTRIBUTING.md", ...readdirSync(join(ROOT, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)];

/** The text without fenced code blocks and inline code (links there are examples, not links). */
function prose(markdown: string): string {
  return markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, "").replace(/`[^`\n]*`/g, "");
}

/** GitHub's heading anchor: lowercase, punctuation dropped, spaces to hyphens, -1, -2 ... for repeats. */
function slug(heading: string): string {
  const text = heading
    .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1")
    .replace(/<[^>]+>/g, "")
    .replace(/[`*]/g, "")
    .trim()
    .toLowerCase();
  return text.replace(/[^\p{L}\p{N}\p{M}\p{Pc} -]/gu, "").replace(/ /g, "-");
}

function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  const text = markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, "");
  for (const m of text.matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const base = slug(m[1]!);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  for (const m of text.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) out.add(m[1]!);
  return out;
}

function links(markdown: string): string[] {
  const text = prose(markdown);
  const inline = [...text.matchAll(/!?\[(?:[^\]\\]|\\.)*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]!);
  const reference = [...text.matchAll(/^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$/gm)].map((m) => m[1]!);
  return [...inline, ...reference];
}

describe("documentation links", () => {
  it("finds the documents", () => {
    for (const f of ["README.md", "CONTRIBUTING.md", "docs/configuration.md", "docs/how-it-works.md", "docs/upstream.md"]) expect(FILES).toContain(f);
  });

  it("slugs headings as GitHub does", () => {
    expect(slug("Running several replicas")).toBe("running-several-replicas");
    expect(slug("`store` with `\"type\": \"redis\"`")).toBe("store-with-type-redis");
    expect(slug("中文快速开始")).toBe("中文快速开始");
    expect(slug("Errors a machine can read: `ErrorInfo`, `RetryInfo`")).toBe("errors-a-machine-can-read-errorinfo-retryinfo");
    expect(slug("GetToken / ForceRefresh")).toBe("gettoken--forcerefresh");
  });

  for (const file of FILES) {
    it(`${file}: every relative link and #anchor resolves inside the repository`, () => {
      const source = readFileSync(join(ROOT, file), "utf8");
      const problems: string[] = [];
      for (const link of links(source)) {
        if (/^(https?|mailto):/i.test(link)) continue;
        if (/^[a-z][a-z0-9+.-]*:/i.test(link)) {
          problems.push(`${link}: not a relative or http(s) link`);
          continue;
        }
        const [pathPart = "", fragment] = link.split("#", 2);
        const target = pathPart === "" ? join(ROOT, file) : resolve(dirname(join(ROOT, file)), decodeURIComponent(pathPart));
        const inside = relative(ROOT, target);
        if (inside.startsWith("..") || resolve(ROOT, inside) !== target) {
          problems.push(`${link}: points outside the repository`);
          continue;
        }
        if (!existsSync(target)) {
          problems.push(`${link}: no such file ${inside}`);
          continue;
        }
        if (fragment !== undefined && fragment !== "") {
          if (statSync(target).isDirectory() || !target.endsWith(".md")) {
            problems.push(`${link}: an anchor into something that is not a Markdown file`);
          } else if (!anchors(readFileSync(target, "utf8")).has(decodeURIComponent(fragment))) {
            problems.push(`${link}: no heading #${fragment} in ${inside}`);
          }
        }
      }
      expect(problems).toEqual([]);
    });
  }
});

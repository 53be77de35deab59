/**
 * The README stays what a newcomer reads in ten minutes: short, with the two
 * commands CI and users run, a 中文 section, and pointers into docs/.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { pageSignature } from "../../src/core/jssdk.js";

const readme = readFileSync("README.md", "utf8");

describe("README.md", () => {
  it("is at most 12 KB", () => {
    expect(Buffer.byteLength(readme)).toBeLessThanOrEqual(12 * 1024);
  });

  it("keeps the two commands and the 中文 section", () => {
    expect(readme).toContain("npm ci && npm run demo");
    expect(readme).toContain("npm test");
    expect(readme).toMatch(/^## .*中文.*$/m);
  });

  it("points at every document under docs/", () => {
    for (const doc of ["clients", "credentials", "configuration", "security", "replicas", "operations", "errors", "upstream", "how-it-works", "benchmarks"]) {
      expect(readme).toContain(`(docs/${doc}.md)`);
    }
    expect(readme).toContain("(CONTRIBUTING.md)");
  });
});

describe("docs/upstream.md", () => {
  it("gives a signature check vector the signer agrees with", () => {
    const doc = readFileSync("docs/upstream.md", "utf8");
    const ticket = /ticket\s+`([^`]+)`/.exec(doc)![1]!;
    const nonce = /noncestr `([^`]+)`/.exec(doc)![1]!;
    const timestamp = Number(/timestamp `(\d+)`/.exec(doc)![1]);
    const url = /url\s+`([^`]+)`/.exec(doc)![1]!;
    const signature = /sign to\s+`([0-9a-f]{40})`/.exec(doc)![1]!;
    expect(pageSignature(ticket, nonce, timestamp, url)).toBe(signature);
  });
});

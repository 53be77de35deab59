/**
 * What docs/security.md and docs/configuration.md say about the metrics port
 * and their example configs: the paths the metrics port is documented to
 * answer are exactly the ones a real metrics listener answers, and an example
 * config with placeholders is called a template just before it.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { FakeClock } from "../../src/clock.js";
import { APP, eventually, Harness } from "../support/harness.js";

/** Paths a metrics listener could plausibly answer; the docs must name exactly those it does. */
const CANDIDATES = ["/", "/metrics", "/healthz", "/readyz", "/status", "/status.json", "/v1/credentials", "/debug"];

describe("docs/security.md on the metrics port", () => {
  it("names every path the metrics listener answers, and no other; /status.json carries no token", async () => {
    const doc = readFileSync("docs/security.md", "utf8");
    const sentence = /the metrics port, a `Host` it does not\s+answer \(421\), then anything but ([^(]+)\(404\)/.exec(doc)?.[1];
    expect(sentence, "the metrics port's refusals in docs/security.md").toBeDefined();
    const documented = [...sentence!.matchAll(/`(?:GET )?(\/[^`]*)`/g)].map((m) => m[1]!).sort();

    const h = await Harness.start({ clock: new FakeClock(Date.parse("2026-03-02T09:00:00Z")), config: { metrics: { listen: "127.0.0.1:0" } } });
    try {
      const token = (await h.getToken(APP)).token!.accessToken;
      const base = `http://127.0.0.1:${h.server.metricsPort}`;
      await eventually(async () => expect((await fetch(`${base}/readyz`)).status).toBe(200));
      const answered: string[] = [];
      for (const path of CANDIDATES) {
        const res = await fetch(`${base}${path}`);
        const body = await res.text();
        expect(body, path).not.toContain(token);
        if (res.status === 200) answered.push(path);
        else expect(res.status, path).toBe(404);
      }
      expect(documented).toEqual(answered.sort());
    } finally {
      await h.stop();
    }
  });

  it("says the status page has no authentication, carries no token or secret, and belongs on an internal address", () => {
    const doc = readFileSync("docs/security.md", "utf8");
    expect(doc).toMatch(/\*\*The metrics port has no authentication\*\*/);
    expect(doc).toMatch(/Never a token, a ticket or a secret/);
    expect(doc).toMatch(/keep\s+`metrics\.listen` on loopback or an internal address/);
  });
});

describe("example configs with placeholders", () => {
  for (const file of ["docs/configuration.md", "docs/security.md"]) {
    it(`${file}: the first one with a <placeholder> or … is called a template just before it`, () => {
      const doc = readFileSync(file, "utf8");
      const blocks = [...doc.matchAll(/```json\n([\s\S]*?)```/g)];
      const first = blocks.find((b) => /<[^>]+>|…/.test(b[1]!));
      expect(first, `${file} has an example config with placeholders`).toBeDefined();
      const before = doc.slice(0, first!.index).trimEnd().split("\n\n").at(-1)!;
      expect(before).toMatch(/template/i);
    });
  }
});

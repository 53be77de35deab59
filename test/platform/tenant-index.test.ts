/**
 * The ordered index behind ListAuthorizers' pages: the same pages as sorting
 * a plain copy every time (against a model, through random additions,
 * removals, status changes and clears), and the work it saves counted: a
 * page rebuilds nothing unless membership or a status changed.
 */
import { describe, expect, it } from "vitest";
import { TenantIndex } from "../../src/platform/tenant-index.js";
import type { AuthorizerStatus, StoredAuthorizer } from "../../src/platform/store.js";

const record = (appId: string, status: AuthorizerStatus = "active"): StoredAuthorizer => ({ appId, refreshToken: `refresh-${appId}`, status, authorizedAt: 1, updatedAt: 1 });
const id = (n: number) => `wx${n.toString(36).padStart(10, "0")}`;

/** Every page in turn, as appids. */
function pages(index: TenantIndex, limit: number, status?: AuthorizerStatus): string[][] {
  const out: string[][] = [];
  let after: string | undefined;
  for (;;) {
    const page = index.page(after, limit, status);
    out.push(page.authorizers.map((a) => a.appId));
    if (!page.more) return out;
    after = page.authorizers.at(-1)!.appId;
  }
}

/** A small deterministic generator (no Math.random: a failure must replay). */
function lcg(seed: number): () => number {
  let x = seed;
  return () => (x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
}

describe("TenantIndex", () => {
  it("pages as a sorted copy would, through random changes (model check)", () => {
    const index = new TenantIndex();
    const model = new Map<string, AuthorizerStatus>();
    const rand = lcg(17);
    for (let step = 0; step < 3000; step++) {
      const r = rand();
      const appId = id(Math.floor(rand() * 400));
      if (r < 0.5) {
        const status: AuthorizerStatus = rand() < 0.8 ? "active" : "needs_reauthorization";
        index.set(appId, record(appId, status));
        model.set(appId, status);
      } else if (r < 0.9) {
        expect(index.delete(appId)).toBe(model.delete(appId));
      } else if (r < 0.903) {
        index.clear();
        model.clear();
      }
      if (step % 7 !== 0) continue;
      const limit = 1 + Math.floor(rand() * 60);
      for (const status of [undefined, "active", "needs_reauthorization"] as const) {
        const expected = [...model].filter(([, s]) => status === undefined || s === status).map(([a]) => a).sort();
        expect(pages(index, limit, status).flat()).toEqual(expected);
        expect(index.count(status)).toBe(expected.length);
        expect(index.page(undefined, limit, status).total).toBe(expected.length);
      }
    }
  });

  it("starts after the appid given, whether or not it is still held", () => {
    const index = new TenantIndex();
    for (const a of ["wxa", "wxc", "wxe"]) index.set(a, record(a));
    expect(index.page("wxc", 10).authorizers.map((a) => a.appId)).toEqual(["wxe"]);
    expect(index.page("wxb", 10).authorizers.map((a) => a.appId)).toEqual(["wxc", "wxe"]);
    expect(index.page("wxe", 10)).toEqual({ authorizers: [], more: false, total: 3 });
    expect(index.page("wxa", 1)).toMatchObject({ more: true, total: 3 });
  });

  it("a page of 100,000 sorts nothing unless membership or a status changed; a change is merged in once", () => {
    const index = new TenantIndex();
    for (let n = 0; n < 100_000; n++) index.set(id(n), record(id(n), n % 10 === 0 ? "needs_reauthorization" : "active"));
    index.page(undefined, 100);
    index.page(undefined, 100, "active");
    index.page(undefined, 100, "needs_reauthorization");
    const built = index.rebuilds;
    expect(built).toBe(3);
    let after: string | undefined;
    for (let i = 0; i < 50; i++) after = index.page(after, 1000).authorizers.at(-1)!.appId;
    // A new token, the same account: no change of membership.
    index.set(id(5), { ...record(id(5)), refreshToken: "rotated" });
    index.page(after, 100);
    index.page(after, 100, "active");
    expect(index.rebuilds).toBe(built);
    // A new account: one merge, then none.
    index.set("wx-new", record("wx-new"));
    index.page(undefined, 100);
    index.page(undefined, 100);
    expect(index.rebuilds).toBe(built + 1);
    // A status change: the two status orders, not the whole one.
    index.set(id(7), record(id(7), "needs_reauthorization"));
    index.page(undefined, 100);
    index.page(undefined, 100, "active");
    index.page(undefined, 100, "needs_reauthorization");
    expect(index.rebuilds).toBe(built + 3);
    // A reload that clears and puts back the same accounts costs no merge.
    const all = [...index.values()];
    index.clear();
    for (const a of all) index.set(a.appId, a);
    index.page(undefined, 100);
    index.page(undefined, 100, "active");
    expect(index.rebuilds).toBe(built + 3);
    expect(index.page(undefined, 100).total).toBe(100_001);
  });
});

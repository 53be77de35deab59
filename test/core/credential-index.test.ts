/**
 * The engine's status index at 100,000 credentials: a page costs the page,
 * not the total. It counts the credentials each page looks at, so a page
 * that scanned everything (a filter applied by looking at every credential)
 * fails here; the states follow what the credentials tell it.
 */
import { describe, expect, it } from "vitest";
import type { RefreshError } from "../../src/core/errors.js";
import { CredentialIndex, orderKey } from "../../src/core/credential-index.js";
import type { CredentialKind } from "../../src/core/credential-id.js";
import type { Credential } from "../../src/core/credential.js";

/** What the index reads of a credential: its key, kind, validity and last error. */
function fake(appId: string, kind: CredentialKind = "access_token", agent?: string, platform?: string) {
  const app = platform === undefined ? appId : `${appId}@${platform}`;
  const owner = agent === undefined ? app : `${app}/${agent}`;
  const c = {
    key: kind === "access_token" ? owner : `${owner}#${kind}`,
    id: { appId, kind, ...(agent !== undefined ? { agent } : {}), ...(platform !== undefined ? { platform } : {}) },
    valid: true,
    error: undefined as RefreshError | undefined,
    healthy: () => c.valid,
    lastError: () => c.error,
  };
  return c;
}
type Fake = ReturnType<typeof fake>;
const asCredential = (c: Fake) => c as unknown as Credential;
const N = 100_000;
const id = (n: number) => `wxscale${String(n).padStart(10, "0")}`;

function indexOf100k(): { index: CredentialIndex; all: Fake[] } {
  const index = new CredentialIndex();
  const all: Fake[] = [];
  for (let n = 0; n < N; n++) {
    const c = fake(id(n));
    all.push(c);
    index.add(asCredential(c));
  }
  return { index, all };
}

describe("the credential index", () => {
  it("orders an app's token, its tickets, then each agent's, with no other app in between", () => {
    const index = new CredentialIndex();
    for (const c of [fake("ww1", "access_token", "1000002"), fake("ww1-b"), fake("ww1", "jsapi_ticket"), fake("ww1", "agent_config_ticket", "1000002"), fake("ww1"), fake("ww1.c")]) index.add(asCredential(c));
    const keys = (page: ReturnType<CredentialIndex["page"]>) => page.credentials.map((c) => c.key);
    expect(keys(index.page({ limit: 10, budget: 100 }))).toEqual(["ww1", "ww1#jsapi_ticket", "ww1/1000002", "ww1/1000002#agent_config_ticket", "ww1-b", "ww1.c"]);
    const app = index.page({ limit: 10, budget: 100, appId: "ww1" });
    expect([keys(app), app.total]).toEqual([["ww1", "ww1#jsapi_ticket", "ww1/1000002", "ww1/1000002#agent_config_ticket"], 4]);
  });

  it("keeps a corp's credentials through WeCom suites with the corp's own: an app_id page holds them, no other app in between", () => {
    const index = new CredentialIndex();
    const all = [fake("ww1", "jsapi_ticket", undefined, "wws1"), fake("ww1-b"), fake("ww1", "access_token", undefined, "dk1"), fake("ww1", "access_token", "1000002"), fake("ww1"), fake("ww1", "access_token", undefined, "wws1"), fake("ww1.c")];
    for (const c of all) index.add(asCredential(c));
    const keys = (page: ReturnType<CredentialIndex["page"]>) => page.credentials.map((c) => c.key);
    const corp = ["ww1", "ww1/1000002", "ww1@dk1", "ww1@wws1", "ww1@wws1#jsapi_ticket"];
    expect(keys(index.page({ limit: 10, budget: 100 }))).toEqual([...corp, "ww1-b", "ww1.c"]);
    const app = index.page({ limit: 10, budget: 100, appId: "ww1" });
    expect([keys(app), app.total]).toEqual([corp, 5]);
    // Paged two at a time, from the token's order key.
    const first = index.page({ limit: 2, budget: 100, appId: "ww1" });
    const second = index.page({ limit: 2, budget: 100, appId: "ww1", after: first.next });
    expect([keys(first), keys(second)]).toEqual([corp.slice(0, 2), corp.slice(2, 4)]);
  });

  it("at 100,000, a page by state, by kind or from a token looks at the page only", () => {
    const { index, all } = indexOf100k();
    index.page({ limit: 1, budget: 1 }); // builds the order once
    const down = [all[7]!, all[50_000]!, all[99_999]!];
    for (const c of down) {
      c.valid = false;
      c.error = new Error("refused") as unknown as RefreshError;
      index.update(asCredential(c));
    }
    expect(index.counts()).toEqual({ total: N, ok: N - 3, failing: 0, down: 3, idle: 0 });

    let before = index.visited;
    const page = index.page({ limit: 100, budget: 10_000, state: "down" });
    expect([page.credentials.map((c) => c.key), page.total, page.next]).toEqual([down.map((c) => c.key), 3, undefined]);
    expect(index.visited - before).toBe(3);

    before = index.visited;
    const middle = index.page({ limit: 100, budget: 10_000, after: orderKey(id(60_000)) });
    expect([middle.credentials[0]!.key, middle.credentials.length, middle.total, middle.next]).toEqual([id(60_001), 100, N, orderKey(id(60_100))]);
    expect(index.visited - before).toBe(100);

    // A search no index answers: one page looks at the budget, and says where to go on.
    before = index.visited;
    const searched = index.page({ limit: 100, budget: 5000, accept: (c) => c.key.endsWith("99999") });
    expect([searched.credentials.map((c) => c.key), searched.total, searched.next]).toEqual([[], undefined, orderKey(id(4999))]);
    expect(index.visited - before).toBe(5000);

    // Recovered: back in the "ok" index, and out of "down".
    down[1]!.valid = true;
    down[1]!.error = undefined;
    index.update(asCredential(down[1]!));
    expect(index.page({ limit: 100, budget: 10_000, state: "down" }).credentials.map((c) => c.key)).toEqual([id(7), id(99_999)]);
    index.remove(asCredential(down[0]!));
    expect(index.counts()).toEqual({ total: N - 1, ok: N - 2, failing: 0, down: 1, idle: 0 });
  });
});

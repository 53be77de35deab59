/**
 * ListCredentials over real gRPC and the HTTP route: every credential's
 * state, fingerprint, times, failure and quota (never a value), in order,
 * filtered by app, kind, state and search, in pages; bad pages refused as
 * ListAuthorizers refuses them; a caller sees only what it may read.
 */
import { createHash } from "node:crypto";
import { Metadata, status, type ServiceError } from "@grpc/grpc-js";
import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import {
  CredentialKind,
  CredentialState,
  ListCredentialsRequest,
  type ListCredentialsResponse,
} from "../../generated/wxtoken/v1/token_service.js";
import { ConfigAccessPolicy } from "../../src/auth/access-policy.js";
import { statusDetailsOf } from "../../packages/client/src/status-details.js";
import { APP, APP2, eventually, grpcError, Harness } from "../support/harness.js";

let h: Harness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

function list(harness: Harness, req: Partial<ListCredentialsRequest> = {}, apiKey?: string): Promise<ListCredentialsResponse> {
  const md = new Metadata();
  if (apiKey) md.set("authorization", `Bearer ${apiKey}`);
  return new Promise((resolve, reject) =>
    harness.client.listCredentials(ListCredentialsRequest.fromPartial(req), md, { deadline: Date.now() + 5000 }, (err, res) => (err ? reject(err) : resolve(res))),
  );
}

const fp = (value: string) => createHash("sha256").update(value).digest("hex").slice(0, 8);
const names = (r: ListCredentialsResponse) => r.credentials.map((c) => `${c.appId}:${CredentialKind[c.kind]}`);
const reasonOf = (err: ServiceError) => statusDetailsOf(err.metadata)?.errorInfo?.reason;

/** APP with its jsapi ticket serves; APP2 is refused by WeChat (40164) from the start. */
async function start(extra: Parameters<typeof Harness.start>[0] = {}): Promise<Harness> {
  h = await Harness.start({
    apps: [
      { appId: APP, secretEnv: `SECRET_${APP}`, tickets: ["jsapi"] },
      { appId: APP2, secretEnv: `SECRET_${APP2}` },
    ],
    faults: [{ appId: APP2, errcode: 40164, times: Infinity }],
    config: { http: { listen: "127.0.0.1:0" } },
    ...extra,
  });
  const harness = h;
  await eventually(async () => expect((await list(harness, { stateFilter: CredentialState.CREDENTIAL_STATE_OK })).credentials).toHaveLength(2));
  return harness;
}

describe("ListCredentials", () => {
  it("shows every credential in order with its state, fingerprint, times, failure and quota, never a value", async () => {
    const harness = await start();
    const res = await list(harness);
    expect(names(res)).toEqual([`${APP}:CREDENTIAL_KIND_ACCESS_TOKEN`, `${APP}:CREDENTIAL_KIND_JSAPI_TICKET`, `${APP2}:CREDENTIAL_KIND_ACCESS_TOKEN`]);
    expect([res.totalSize, res.nextPageToken, res.replica]).toEqual([3, "", ""]);
    expect(res.counts).toEqual({ total: 3, ok: 2, failing: 0, down: 1, idle: 0 });

    const token = (await harness.getToken(APP)).token!;
    const [app, ticket, refused] = res.credentials;
    expect(app).toMatchObject({ state: CredentialState.CREDENTIAL_STATE_OK, version: 1, fingerprint: fp(token.accessToken), failedAttempts: 0, lastErrorReason: "", quotaUsed: 1, quotaLimit: 100_000 });
    expect(app!.expiresAt).toEqual(token.expiresAt);
    expect(app!.nextRefreshAt).toEqual(token.refreshAt);
    expect(ticket).toMatchObject({ state: CredentialState.CREDENTIAL_STATE_OK, fingerprint: fp(harness.fake.currentTicket(APP, "jsapi")!) });
    expect(refused).toMatchObject({ state: CredentialState.CREDENTIAL_STATE_DOWN, version: 0, fingerprint: "", lastErrorReason: "WECHAT_ERROR", quotaUsed: 0 });
    // A refusal costs no quota (only an answer that may have issued a token counts).
    expect(refused!.failedAttempts).toBeGreaterThanOrEqual(1);
    expect(refused!.lastErrorMessage).toContain("40164");
    expect(refused!.failingSince).toEqual(new Date(harness.clock.now()));
    expect(refused!.nextRefreshAt!.getTime()).toBeGreaterThan(harness.clock.now());

    const text = JSON.stringify(res);
    expect(text).not.toContain(token.accessToken);
    expect(text).not.toContain(harness.fake.currentTicket(APP, "jsapi")!);
  });

  it("filters by state, kind, app and search; the counts stay whole", async () => {
    const harness = await start();
    const down = await list(harness, { stateFilter: CredentialState.CREDENTIAL_STATE_DOWN });
    expect([names(down), down.totalSize, down.counts?.total]).toEqual([[`${APP2}:CREDENTIAL_KIND_ACCESS_TOKEN`], 1, 3]);
    expect(names(await list(harness, { kindFilter: CredentialKind.CREDENTIAL_KIND_JSAPI_TICKET }))).toEqual([`${APP}:CREDENTIAL_KIND_JSAPI_TICKET`]);
    expect(names(await list(harness, { kindFilter: CredentialKind.CREDENTIAL_KIND_ACCESS_TOKEN, stateFilter: CredentialState.CREDENTIAL_STATE_OK }))).toEqual([`${APP}:CREDENTIAL_KIND_ACCESS_TOKEN`]);
    const app = await list(harness, { appId: APP });
    expect([names(app), app.totalSize]).toEqual([[`${APP}:CREDENTIAL_KIND_ACCESS_TOKEN`, `${APP}:CREDENTIAL_KIND_JSAPI_TICKET`], 2]);
    const search = await list(harness, { search: APP2.slice(4, 12).toUpperCase() });
    expect([names(search), search.totalSize]).toEqual([[`${APP2}:CREDENTIAL_KIND_ACCESS_TOKEN`], -1]);
    expect(names(await list(harness, { search: "jsapi" }))).toEqual([`${APP}:CREDENTIAL_KIND_JSAPI_TICKET`]);
  });

  it("pages with next_page_token; refuses a bad size, filter or token as ListAuthorizers does", async () => {
    const harness = await start();
    const seen: string[] = [];
    let token = "";
    do {
      const page = await list(harness, { pageSize: 1, pageToken: token });
      expect(page.credentials).toHaveLength(1);
      seen.push(...names(page));
      token = page.nextPageToken;
    } while (token !== "");
    expect(seen).toEqual(names(await list(harness)));

    const first = await list(harness, { pageSize: 1 });
    const bad = async (req: Partial<ListCredentialsRequest>) => {
      const err = await grpcError(list(harness, req));
      return [status[err.code], reasonOf(err)];
    };
    expect(await bad({ pageSize: -1 })).toEqual(["INVALID_ARGUMENT", "INVALID_PAGE_SIZE"]);
    expect(await bad({ pageToken: "not a token" })).toEqual(["INVALID_ARGUMENT", "INVALID_PAGE_TOKEN"]);
    expect(await bad({ pageToken: first.nextPageToken, search: "wx" })).toEqual(["INVALID_ARGUMENT", "INVALID_PAGE_TOKEN"]);
    expect(await bad({ pageToken: first.nextPageToken, stateFilter: CredentialState.CREDENTIAL_STATE_OK })).toEqual(["INVALID_ARGUMENT", "INVALID_PAGE_TOKEN"]);
    expect(await bad({ stateFilter: 99 as CredentialState })).toEqual(["INVALID_ARGUMENT", "INVALID_STATE_FILTER"]);
    expect(await bad({ appId: "bad app!" })).toEqual(["INVALID_ARGUMENT", "INVALID_APP_ID"]);
    expect(await bad({ search: "x".repeat(129) })).toEqual(["INVALID_ARGUMENT", "INVALID_ARGUMENT"]);
  });

  it("answers GET /v1/credentials in proto3 JSON", async () => {
    const harness = await start();
    const res = await request(`http://127.0.0.1:${harness.server.httpPort}/v1/credentials?state_filter=CREDENTIAL_STATE_OK&page_size=1`);
    expect(res.statusCode).toBe(200);
    const body = (await res.body.json()) as { credentials: Record<string, unknown>[]; nextPageToken: string; totalSize: number; counts: Record<string, number> };
    expect(body.credentials).toHaveLength(1);
    expect(body.credentials[0]).toMatchObject({ appId: APP, kind: "CREDENTIAL_KIND_ACCESS_TOKEN", state: "CREDENTIAL_STATE_OK", version: "1", quotaUsed: 1 });
    expect([body.totalSize, body.counts.down, body.nextPageToken !== ""]).toEqual([2, 1, true]);
    const next = await request(`http://127.0.0.1:${harness.server.httpPort}/v1/credentials?state_filter=CREDENTIAL_STATE_OK&page_size=1&page_token=${body.nextPageToken}`);
    expect(((await next.body.json()) as { credentials: { kind: string }[] }).credentials[0]!.kind).toBe("CREDENTIAL_KIND_JSAPI_TICKET");
    const refused = await request(`http://127.0.0.1:${harness.server.httpPort}/v1/credentials?state_filter=SOMETHING`);
    expect(refused.statusCode).toBe(400);
    await refused.body.dump();
  });

  it("shows a caller only what it may read; the counts only to one who may read every app", async () => {
    const sha = (key: string) => createHash("sha256").update(key).digest("hex");
    const accessPolicy = new ConfigAccessPolicy([
      { name: "orders", apiKeySha256: sha("orders-key-0123456789abcdef"), read: [APP], refresh: [], sign: [] },
      { name: "ops", apiKeySha256: sha("ops-key-0123456789abcdef0123"), read: ["*"], refresh: [], sign: [] },
      { name: "nobody", apiKeySha256: sha("nobody-key-0123456789abcdef0"), read: [], refresh: [], sign: [] },
    ]);
    h = await Harness.start({
      apps: [
        { appId: APP, secretEnv: `SECRET_${APP}`, tickets: ["jsapi"] },
        { appId: APP2, secretEnv: `SECRET_${APP2}` },
      ],
      accessPolicy,
      config: { insecure: true },
    });
    const harness = h;
    const orders = await list(harness, {}, "orders-key-0123456789abcdef");
    expect([names(orders), orders.totalSize, orders.counts]).toEqual([[`${APP}:CREDENTIAL_KIND_ACCESS_TOKEN`, `${APP}:CREDENTIAL_KIND_JSAPI_TICKET`], -1, undefined]);
    expect(names(await list(harness, { appId: APP2 }, "orders-key-0123456789abcdef"))).toEqual([]);
    const ops = await list(harness, {}, "ops-key-0123456789abcdef0123");
    expect([ops.credentials.length, ops.totalSize, ops.counts?.total]).toEqual([3, 3, 3]);
    expect((await list(harness, {}, "nobody-key-0123456789abcdef0")).credentials).toEqual([]);
    expect(status[(await grpcError(list(harness))).code]).toBe("UNAUTHENTICATED");
  });
});

/**
 * One vocabulary for credential kinds: every spelling (short, long, the enum's
 * name, over HTTP and gRPC its number) is taken by every transport and
 * client; an unknown kind is refused with the valid values listed, by the
 * clients at once, before any call.
 */
import { status } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { CredentialKind } from "../../generated/wxtoken/v1/token_service.js";
import { CREDENTIAL_KIND_TABLE, HttpTokenClient, InvalidKindError, TokenClient, TokenSource } from "../../packages/client/src/index.js";
import { statusDetailsOf } from "../../packages/client/src/status-details.js";
import { ConfigError, parseConfig } from "../../src/config/load.js";
import { useCli } from "../support/cli.js";
import { APP, APP2, grpcError, Harness } from "../support/harness.js";

// Written out, not derived from kinds.ts: short, long, enum name, number.
const EXPECTED = [
  ["token", "access_token", "CREDENTIAL_KIND_ACCESS_TOKEN", 1],
  ["jsapi", "jsapi_ticket", "CREDENTIAL_KIND_JSAPI_TICKET", 2],
  ["wx_card", "wx_card_ticket", "CREDENTIAL_KIND_WX_CARD_TICKET", 3],
  ["agent_config", "agent_config_ticket", "CREDENTIAL_KIND_AGENT_CONFIG_TICKET", 4],
] as const;
const VALID_LIST =
  "token (access_token, CREDENTIAL_KIND_ACCESS_TOKEN, 1), jsapi (jsapi_ticket, CREDENTIAL_KIND_JSAPI_TICKET, 2), " +
  "wx_card (wx_card_ticket, CREDENTIAL_KIND_WX_CARD_TICKET, 3), agent_config (agent_config_ticket, CREDENTIAL_KIND_AGENT_CONFIG_TICKET, 4)";
/** Every way to name the jsapi ticket. */
const JSAPI_SPELLINGS = ["jsapi", "jsapi_ticket", "CREDENTIAL_KIND_JSAPI_TICKET", CredentialKind.CREDENTIAL_KIND_JSAPI_TICKET] as const;

const fixture = useCli();

async function start(): Promise<Harness> {
  const h = await Harness.start({
    apps: [{ appId: APP, secretEnv: `SECRET_${APP}`, tickets: ["jsapi"] }, { appId: APP2, secretEnv: `SECRET_${APP2}` }],
    config: { http: { listen: "127.0.0.1:0" } },
  });
  fixture.defer(() => h.stop());
  await h.get({ appId: APP, kind: CredentialKind.CREDENTIAL_KIND_JSAPI_TICKET }); // the ticket fetched, so the fake knows it
  return h;
}

describe("the kinds table", () => {
  it("has each kind's short name, long name, enum name and number, matching the proto enum", () => {
    expect(CREDENTIAL_KIND_TABLE.map((k) => [k.short, k.name, k.enumName, k.number])).toEqual(EXPECTED);
    for (const [, , enumName, number] of EXPECTED) expect(CredentialKind[enumName]).toBe(number);
  });
});

describe("every spelling, on every transport", () => {
  it("gRPC: GetToken takes each kind's number, and an unknown number is INVALID_ARGUMENT listing the valid kinds", async () => {
    const h = await start();
    expect((await h.get({ appId: APP, kind: 2 })).token).toMatchObject({ kind: CredentialKind.CREDENTIAL_KIND_JSAPI_TICKET, accessToken: h.fake.currentTicket(APP, "jsapi") });
    const err = await grpcError(h.get({ appId: APP, kind: 9 as CredentialKind }));
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.details).toBe(`kind is not a credential kind this server knows; valid kinds: ${VALID_LIST}`);
    expect(statusDetailsOf(err.metadata)?.errorInfo?.reason).toBe("INVALID_KIND");
  });

  it("HTTP: ?kind= and a JSON body take the short, long and enum names and the number; an unknown kind is a 400 listing the valid kinds", async () => {
    const h = await start();
    const base = `http://127.0.0.1:${h.server.httpPort}/v1/apps/${APP}/token`;
    const ticket = h.fake.currentTicket(APP, "jsapi");
    for (const spelling of JSAPI_SPELLINGS) {
      const res = await fetch(`${base}?kind=${spelling}`);
      expect([spelling, res.status, ((await res.json()) as { token: unknown }).token]).toEqual([spelling, 200, expect.objectContaining({ kind: "CREDENTIAL_KIND_JSAPI_TICKET", accessToken: ticket })]);
      // ForceRefresh's body: the stale value is not current, so nothing is refreshed, and the current ticket comes back.
      const body = JSON.stringify({ staleToken: "not-the-ticket", kind: spelling });
      const refreshed = await fetch(`${base}:refresh`, { method: "POST", body, headers: { "content-type": "application/json" } });
      expect([spelling, refreshed.status, ((await refreshed.json()) as { token?: { accessToken: string } }).token?.accessToken]).toEqual([spelling, 200, ticket]);
    }
    const bad = await fetch(`${base}?kind=jsapix`);
    expect(bad.status).toBe(400);
    const answer = (await bad.json()) as { message: string; details: { reason: string }[] };
    expect(answer.message).toBe(`field "kind" is not a credential kind: "jsapix"; valid kinds: ${VALID_LIST}`);
    expect(answer.details[0]!.reason).toBe("INVALID_KIND");
  });

  it("the clients take every spelling: TokenClient, HttpTokenClient and TokenSource over each", async () => {
    const h = await start();
    const grpc = new TokenClient(`127.0.0.1:${h.port}`);
    const http = new HttpTokenClient(`http://127.0.0.1:${h.server.httpPort}`);
    fixture.defer(() => (grpc.close(), http.close()));
    const ticket = h.fake.currentTicket(APP, "jsapi");
    for (const kind of JSAPI_SPELLINGS) {
      expect([kind, (await grpc.getToken(APP, { kind })).accessToken]).toEqual([kind, ticket]);
      expect([kind, (await http.getToken(APP, { kind })).accessToken]).toEqual([kind, ticket]);
      for (const client of [grpc, http]) {
        const source = await TokenSource.create({ client, appId: APP, kind, clock: h.clock });
        expect([kind, source.token(), source.which.kind]).toEqual([kind, ticket, "jsapi_ticket"]);
        await source.close();
      }
    }
  });
});

describe("the config's tickets", () => {
  const env = { WX_SECRET: "s" };
  const tickets = (list: unknown[]) => parseConfig({ apps: [{ appId: "wx1", secretEnv: "WX_SECRET", tickets: list }] }, { env }).apps[0]!;

  it("take the short, long and enum names, held as the short one", () => {
    expect(tickets(["jsapi_ticket", "CREDENTIAL_KIND_WX_CARD_TICKET"])).toMatchObject({ tickets: ["jsapi", "wx_card"] });
    expect(tickets(["jsapi"])).toMatchObject({ tickets: ["jsapi"] });
  });

  it("refuse one ticket listed twice under two spellings, and an unknown one with the valid values", () => {
    expect(() => tickets(["jsapi", "jsapi_ticket"])).toThrow(/lists a ticket twice/);
    const err = (() => {
      try {
        tickets(["jsapix"]);
      } catch (e) {
        return e as Error;
      }
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect(err!.message).toMatch(/apps\[0\]\.tickets\[0\].*"jsapi"\|"jsapi_ticket"\|"CREDENTIAL_KIND_JSAPI_TICKET"\|"wx_card"\|"wx_card_ticket"\|"CREDENTIAL_KIND_WX_CARD_TICKET"/);
  });
});

describe("an unknown kind in the clients", () => {
  it("is refused before any call, with InvalidKindError listing the valid kinds", async () => {
    // Nothing listens on port 1: a call that went out would fail UNAVAILABLE instead.
    const grpc = new TokenClient("127.0.0.1:1");
    const http = new HttpTokenClient("http://127.0.0.1:1");
    fixture.defer(() => (grpc.close(), http.close()));
    const kind = "jsapi-ticket" as never;
    for (const call of [() => grpc.getToken(APP, { kind }), () => http.getToken(APP, { kind }), () => grpc.forceRefresh(APP, "t", { kind }), () => grpc.listCredentials({ kind })]) {
      const err = await call().then(() => expect.fail("accepted an unknown kind"), (e: unknown) => e);
      expect(err).toBeInstanceOf(InvalidKindError);
      expect(err).toMatchObject({ code: "INVALID_KIND", message: `unknown credential kind "jsapi-ticket"; valid kinds: ${VALID_LIST}` });
    }
    expect(() => grpc.watch(APP, { kind })).toThrow(InvalidKindError);
  });

  it("fails TokenSource.create at once, not after its timeout, and opens no watch", async () => {
    const h = await start();
    // The source's clock is the harness's fake one, which never moves here: had create() waited for its timeout, it would never settle.
    const err = await TokenSource.create({ address: `127.0.0.1:${h.port}`, appId: APP, kind: "jsapi-ticket" as never, clock: h.clock }).then(
      () => expect.fail("accepted an unknown kind"),
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(InvalidKindError);
    expect(h.server.tokens.watcherCount()).toBe(0);
  });
});

describe("the CLI", () => {
  it("takes every spelling of --kind and prints the HTTP API's JSON", { timeout: 60_000 }, async () => {
    const h = await start();
    const addr = ["--addr", `127.0.0.1:${h.port}`];
    const ticket = h.fake.currentTicket(APP, "jsapi");
    for (const kind of JSAPI_SPELLINGS) {
      const got = await fixture.cli.run(["get", APP, "--kind", String(kind), ...addr]);
      expect([kind, got.code, JSON.parse(got.stdout)]).toEqual([kind, 0, { token: expect.objectContaining({ kind: "CREDENTIAL_KIND_JSAPI_TICKET", accessToken: ticket, version: "1" }) }]);
    }
    const http = await (await fetch(`http://127.0.0.1:${h.server.httpPort}/v1/apps/${APP}/token?kind=jsapi`)).json();
    const cli = await fixture.cli.run(["get", APP, "--kind", "jsapi", ...addr]);
    expect(JSON.parse(cli.stdout)).toEqual(http);
  });
});

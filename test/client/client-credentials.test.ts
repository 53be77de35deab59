/**
 * The client library and the CLI with every credential kind: a TokenSource
 * holding a ticket and a WeCom agent's token, withToken recovering a ticket,
 * `wxtoken get --kind/--agent` and `wxtoken sign` as processes.
 */
import { createHash } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { pageSignature, TokenClient, TokenServiceError, TokenSource, withToken } from "../../src/index.js";
import { useCli } from "../support/cli.js";
import { APP, eventually, Harness } from "../support/harness.js";

const CORP = "ww0123456789abcdef";
const AGENT = "1000002";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
const fixture = useCli();

async function start(): Promise<Harness> {
  const h = await Harness.start({
    fakeOptions: { wecom: { [CORP]: { [AGENT]: "agent-secret-value" } } },
    env: { AGENT_SECRET: "agent-secret-value" },
    apps: [
      { appId: APP, secretEnv: `SECRET_${APP}`, tickets: ["jsapi"] },
      { type: "wecom", corpId: CORP, agent: AGENT, secretEnv: "AGENT_SECRET", tickets: ["agent_config"] },
    ],
  });
  cleanups.push(() => h.stop());
  return h;
}

describe("the client library with tickets and WeCom agents", () => {
  it("keeps a ticket in a TokenSource, follows its rotation, and recovers it with withToken", async () => {
    const h = await start();
    const source = await TokenSource.create({ address: `127.0.0.1:${h.port}`, appId: APP, kind: "jsapi_ticket", clock: h.clock });
    cleanups.push(() => source.close());
    const first = source.token();
    expect(first).toBe(h.fake.currentTicket(APP, "jsapi"));

    // The page reported "invalid signature": the ticket WeChat had was cut.
    h.fake.invalidateTicket(APP, "jsapi");
    const seen: string[] = [];
    const result = await withToken(source, APP, async (ticket) => {
      seen.push(ticket);
      if (ticket === first) throw Object.assign(new Error("invalid signature"), { errcode: 40001 });
      return ticket;
    });
    expect(seen).toEqual([first, result]);
    expect(result).toBe(h.fake.currentTicket(APP, "jsapi"));
    await eventually(() => expect(source.token()).toBe(result));
  });

  it("gets a WeCom agent's token and signs a page with a TokenClient", async () => {
    const h = await start();
    const client = new TokenClient(`127.0.0.1:${h.port}`);
    cleanups.push(() => client.close());
    const token = await client.getToken(CORP, { agent: AGENT });
    expect(token).toMatchObject({ appId: CORP, agent: AGENT });
    expect(h.fake.isWeComTokenValid(CORP, AGENT, token.accessToken)).toBe(true);
    const s = await client.signJsSdk(CORP, "https://h5.example.com/x#y", { kind: "agent_config", agent: AGENT });
    const ticket = h.fake.currentTicket(`${CORP}/${AGENT}`, "agent_config")!;
    expect(s.signature).toBe(pageSignature(ticket, s.nonceStr, s.timestamp, "https://h5.example.com/x"));
    // withToken with a TokenClient names the credential too.
    const used = await withToken(client, CORP, async (t) => t, { agent: AGENT });
    expect(used).toBe(token.accessToken);
  });

  it("names the server's reason and retry advice on a TokenServiceError", async () => {
    const h = await start();
    const client = new TokenClient(`127.0.0.1:${h.port}`);
    cleanups.push(() => client.close());
    const ticket = await client.getToken(APP, { kind: "jsapi_ticket" });
    // WeChat still holds the ticket valid: the same one comes back.
    const same = await client.forceRefresh(APP, ticket.fingerprint, { kind: "jsapi_ticket" }).catch((e: unknown) => e);
    expect(same).toBeInstanceOf(TokenServiceError);
    expect(same).toMatchObject({ codeName: "UNAVAILABLE", reason: "SAME_TOKEN", retryDelayMs: 30_000, info: { app_id: APP, kind: "jsapi_ticket" } });
    const unknown = await client.getToken(APP, { kind: "wx_card_ticket" }).catch((e: unknown) => e);
    expect(unknown).toMatchObject({ codeName: "NOT_FOUND", reason: "UNKNOWN_APP", retryDelayMs: undefined });
  });
});

describe("wxtoken get --kind / --agent, and wxtoken sign", () => {
  it("prints a ticket, a WeCom agent's token and a signature as JSON", async () => {
    const h = await start();
    const addr = ["--addr", `127.0.0.1:${h.port}`];
    const ticket = await fixture.cli.run(["get", APP, "--kind", "jsapi", ...addr]);
    expect(ticket.code).toBe(0);
    // The HTTP API's shape: the kind by its enum name, camelCase, 64-bit integers as strings.
    expect(JSON.parse(ticket.stdout)).toMatchObject({ token: { appId: APP, kind: "CREDENTIAL_KIND_JSAPI_TICKET", accessToken: h.fake.currentTicket(APP, "jsapi"), version: "1" } });

    const agent = await fixture.cli.run(["get", CORP, "--agent", AGENT, ...addr]);
    expect(JSON.parse(agent.stdout)).toMatchObject({ token: { appId: CORP, agent: AGENT, version: "1" } });

    const signed = await fixture.cli.run(["sign", APP, "https://h5.example.com/p?a=1#frag", ...addr]);
    expect(signed.code).toBe(0);
    const s = JSON.parse(signed.stdout) as { appId: string; timestamp: string; nonceStr: string; signature: string; url: string; ticketVersion: string };
    expect(s).toMatchObject({ timestamp: expect.stringMatching(/^\d+$/), ticketVersion: "1" });
    expect(Object.keys(s).filter((k) => k.includes("_"))).toEqual([]);
    const t = h.fake.currentTicket(APP, "jsapi")!;
    const plain = `jsapi_ticket=${t}&noncestr=${s.nonceStr}&timestamp=${s.timestamp}&url=https://h5.example.com/p?a=1`;
    expect(s).toMatchObject({ appId: APP, url: "https://h5.example.com/p?a=1", signature: createHash("sha1").update(plain).digest("hex") });

    const bad = await fixture.cli.run(["get", APP, "--kind", "ticket", ...addr]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--kind must be one of token, jsapi, wx_card, agent_config \(or their long or enum names/);
    const refused = await fixture.cli.run(["sign", APP, "ftp://h5.example.com/", ...addr]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/INVALID_ARGUMENT/);
  });
});

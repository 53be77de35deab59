import { describe, expect, it } from "vitest";
import { ConfigError, parseConfig } from "../../src/config/load.js";

const env = { WX_SECRET: "oa-secret", AGENT_SECRET: "agent-secret", CONTACTS_SECRET: "contacts-secret" };

function errorOf(raw: unknown): string {
  try {
    parseConfig(raw, { env });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error("expected a ConfigError");
}

const corp = "ww0123456789abcdef";
const agent = (extra: Record<string, unknown> = {}) => ({ type: "wecom", corpId: corp, agent: "1000002", secretEnv: "AGENT_SECRET", ...extra });

describe("config: every credential family in one apps list", () => {
  it("reads Official Accounts with tickets and WeCom agents and built-in apps, with their defaults", () => {
    const { apps, config } = parseConfig(
      {
        apps: [
          { appId: "wx1", secretEnv: "WX_SECRET", tickets: ["jsapi", "wx_card"], jsSdk: { allowedOrigins: ["https://h5.example.com"] } },
          agent({ tickets: ["jsapi", "agent_config"] }),
          { type: "wecom", corpId: corp, agent: "contacts", secretEnv: "CONTACTS_SECRET" },
        ],
      },
      { env },
    );
    expect(apps[0]).toMatchObject({ type: "official", appId: "wx1", endpoint: "token", tickets: ["jsapi", "wx_card"], jsSdk: { allowedOrigins: ["https://h5.example.com"] } });
    expect(apps[1]).toMatchObject({ type: "wecom", corpId: corp, agent: "1000002", tickets: ["jsapi", "agent_config"], jsSdk: { allowedOrigins: [] } });
    expect(apps[2]).toMatchObject({ type: "wecom", agent: "contacts", tickets: [] });
    expect(apps.map((a) => a.secret.reveal())).toEqual(["oa-secret", "agent-secret", "contacts-secret"]);
    expect(config.upstream.wecomBaseUrl).toBe("https://qyapi.weixin.qq.com");
    expect(config.quota).toMatchObject({ ticketDailyBudget: 100, wecomTicketsPerAgentHour: 90, wecomTicketsPerCorpHour: 360 });
  });

  it("refuses two entries for one corp and agent, naming the key", () => {
    expect(errorOf({ apps: [agent(), agent()] })).toBe(`config error at apps[1].agent: duplicate of apps[0] ("${corp}/1000002")`);
  });

  it("refuses two entries for one Official Account", () => {
    expect(errorOf({ apps: [{ appId: "wx1", secretEnv: "WX_SECRET" }, { appId: "wx1", secretEnv: "WX_SECRET" }] })).toMatch(/apps\[1\]\.appId: duplicate/);
  });

  it("refuses the corp jsapi ticket on two entries of one corp (it is one per corp)", () => {
    const msg = errorOf({ apps: [agent({ tickets: ["jsapi"] }), agent({ agent: "1000003", tickets: ["jsapi"] })] });
    expect(msg).toMatch(/apps\[1\]\.tickets: the corp jsapi ticket of ww0123456789abcdef is already held by apps\[0\]/);
  });

  it("refuses an id that is both an appid and a corpid", () => {
    expect(errorOf({ apps: [{ appId: corp, secretEnv: "WX_SECRET" }, agent()] })).toMatch(/both as an Official Account appid and as a WeCom corpId/);
  });

  it.each([
    [{ apps: [agent({ agnet: "1" })] }, /apps\[0\]: Unrecognized key: "agnet"/],
    [{ apps: [{ appId: "wx1", secretEnv: "WX_SECRET", tickets: ["agent_config"] }] }, /apps\[0\]\.tickets\[0\]/],
    [{ apps: [agent({ tickets: ["wx_card"] })] }, /apps\[0\]\.tickets\[0\]/],
    [{ apps: [agent({ agent: "contacts", tickets: ["agent_config"] })] }, /apps\[0\]\.tickets: agent_config needs a self-built app/],
    [{ apps: [agent({ agent: "a/b" })] }, /apps\[0\]\.agent: must be 1-64 characters/],
    [{ apps: [agent({ secretEnv: undefined })] }, /give exactly one of secretEnv, secretFile or secret/],
    [{ apps: [agent({ tickets: ["jsapi", "jsapi"] })] }, /apps\[0\]\.tickets: lists a ticket twice/],
    [{ apps: [{ appId: "wx1", secretEnv: "WX_SECRET", jsSdk: { allowedOrigins: ["https://h5.example.com/pay"] } }] }, /allowedOrigins\[0\]: must be an origin only/],
    [{ apps: [{ type: "mp", appId: "wx1", secretEnv: "WX_SECRET" }] }, /apps\[0\]\.type/],
    [{ apps: [agent()], quota: { wecomTicketsPerAgentHour: 101 } }, /quota\.wecomTicketsPerAgentHour/],
    [{ apps: [agent()], upstream: { wecomBaseUrl: "qyapi.weixin.qq.com" } }, /upstream\.wecomBaseUrl/],
  ])("refuses %j", (raw, message) => {
    expect(errorOf(raw)).toMatch(message);
  });

  it("takes grants for a whole corp and for one agent, and warns about a grant for neither", () => {
    const { warnings } = parseConfig(
      {
        apps: [agent()],
        auth: {
          clients: [
            { name: "a", apiKeySha256: "a".repeat(64), read: [corp, `${corp}/1000002`, `${corp}/1000009`] },
          ],
        },
      },
      { env },
    );
    expect(warnings).toEqual([`auth.clients[0].read[2] grants "${corp}/1000009", which is not a configured app`]);
  });
});

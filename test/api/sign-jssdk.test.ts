/**
 * SignJsSdk end to end: the page's wx.config / wx.agentConfig / card
 * signature made on the server, checked here against the ticket the fake
 * WeChat issued, with the algorithm written out independently.
 */
import { status } from "@grpc/grpc-js";
import { createHash } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { CredentialKind, SignatureKind } from "../../generated/wxtoken/v1/token_service.js";
import { statusDetailsOf } from "../../packages/client/src/status-details.js";
import { APP, APP2, grpcError, Harness } from "../support/harness.js";

const CORP = "ww0123456789abcdef";
const AGENT = "1000002";
const sha1 = (s: string) => createHash("sha1").update(s).digest("hex");

let h: Harness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

function start(): Promise<Harness> {
  return Harness.start({
    fakeOptions: { wecom: { [CORP]: { [AGENT]: "agent-secret-NEVER-LEAK" } } },
    env: { AGENT_SECRET: "agent-secret-NEVER-LEAK" },
    apps: [
      { appId: APP, secretEnv: `SECRET_${APP}`, tickets: ["jsapi", "wx_card"], jsSdk: { allowedOrigins: ["https://h5.example.com"] } },
      { appId: APP2, secretEnv: `SECRET_${APP2}` },
      { type: "wecom", corpId: CORP, agent: AGENT, secretEnv: "AGENT_SECRET", tickets: ["jsapi", "agent_config"] },
    ],
  });
}

describe("SignJsSdk", () => {
  it("signs wx.config for a page, without its #fragment, with the app's jsapi ticket", async () => {
    h = await start();
    const url = "https://h5.example.com/order?id=42&from=menu";
    const s = await h.sign({ appId: APP, url: `${url}#/pay` });
    const ticket = h.fake.currentTicket(APP, "jsapi")!;
    expect(s).toMatchObject({ appId: APP, agent: "", url, kind: SignatureKind.SIGNATURE_KIND_CONFIG, ticketVersion: 1 });
    expect(s.timestamp).toBe(Math.floor(h.clock.now() / 1000));
    expect(s.nonceStr).toMatch(/^[A-Za-z0-9]{16}$/);
    expect(s.signature).toBe(sha1(`jsapi_ticket=${ticket}&noncestr=${s.nonceStr}&timestamp=${s.timestamp}&url=${url}`));
    expect(s.ticketFingerprint).toBe(createHash("sha256").update(ticket).digest("hex").slice(0, 8));
  });

  it("signs wx.agentConfig with the agent's ticket and wx.config with the corp's, on WeCom", async () => {
    h = await start();
    const url = "https://wecom.example.com/app";
    const agentSig = await h.sign({ appId: CORP, agent: AGENT, kind: SignatureKind.SIGNATURE_KIND_AGENT_CONFIG, url });
    const agentTicket = h.fake.currentTicket(`${CORP}/${AGENT}`, "agent_config")!;
    expect(agentSig).toMatchObject({ appId: CORP, agent: AGENT, kind: SignatureKind.SIGNATURE_KIND_AGENT_CONFIG });
    expect(agentSig.signature).toBe(sha1(`jsapi_ticket=${agentTicket}&noncestr=${agentSig.nonceStr}&timestamp=${agentSig.timestamp}&url=${url}`));
    const corpSig = await h.sign({ appId: CORP, url });
    const corpTicket = h.fake.currentTicket(CORP, "jsapi")!;
    expect(corpSig.signature).toBe(sha1(`jsapi_ticket=${corpTicket}&noncestr=${corpSig.nonceStr}&timestamp=${corpSig.timestamp}&url=${url}`));
  });

  it("signs a card call with the sorted values and the card api_ticket", async () => {
    h = await start();
    const s = await h.sign({ appId: APP, kind: SignatureKind.SIGNATURE_KIND_CARD, cardValues: ["pFS7Fjg8kV1IdDz01r4SQwMkuCKc", "o-user"] });
    const ticket = h.fake.currentTicket(APP, "wx_card")!;
    const sorted = [ticket, String(s.timestamp), s.nonceStr, "pFS7Fjg8kV1IdDz01r4SQwMkuCKc", "o-user"].sort().join("");
    expect(s.signature).toBe(sha1(sorted));
    expect(s.url).toBe("");
  });

  it.each([
    [{ url: "ftp://h5.example.com/" }, status.INVALID_ARGUMENT, "INVALID_URL"],
    [{ url: "/relative" }, status.INVALID_ARGUMENT, "INVALID_URL"],
    [{ url: "" }, status.INVALID_ARGUMENT, "INVALID_URL"],
    [{ url: "https://evil.example.com/" }, status.PERMISSION_DENIED, "ORIGIN_NOT_ALLOWED"],
    [{ url: "https://h5.example.com/", cardValues: ["x"] }, status.INVALID_ARGUMENT, "INVALID_CARD_VALUES"],
    [{ url: "https://h5.example.com/", kind: 9 as SignatureKind }, status.INVALID_ARGUMENT, "INVALID_KIND"],
    [{ url: "https://h5.example.com/", kind: SignatureKind.SIGNATURE_KIND_AGENT_CONFIG }, status.INVALID_ARGUMENT, "INVALID_AGENT"],
    [{ url: "https://h5.example.com/", appId: APP2 }, status.NOT_FOUND, "UNKNOWN_APP"],
    [{ url: "https://h5.example.com/", appId: "wx nope" }, status.INVALID_ARGUMENT, "INVALID_APP_ID"],
  ])("answers %j with %s (%s)", async (req, code, reason) => {
    h = await start();
    const err = await grpcError(h.sign({ appId: APP, ...req }));
    expect(err.code).toBe(code);
    expect(statusDetailsOf(err.metadata)?.errorInfo?.reason).toBe(reason);
  });

  it("never puts the ticket in a response or a log", async () => {
    h = await start();
    const s = await h.sign({ appId: APP, url: "https://h5.example.com/" });
    const ticket = h.fake.currentTicket(APP, "jsapi")!;
    expect(JSON.stringify(s)).not.toContain(ticket);
    expect(h.logs.text()).not.toContain(ticket);
    // The ticket itself is still readable through GetToken (a read grant) for who needs it.
    expect((await h.get({ appId: APP, kind: CredentialKind.CREDENTIAL_KIND_JSAPI_TICKET })).token!.accessToken).toBe(ticket);
  });
});

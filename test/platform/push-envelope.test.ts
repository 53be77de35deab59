/**
 * One push envelope reader for both pushed-ticket platforms: the Open
 * Platform's (<AppId>, encrypt_type=aes) and a WeCom suite's 指令回调
 * (<ToUserName> = the suite id, <AgentID>, no encrypt_type). The receiver id
 * is checked in the envelope and inside the encrypted message alike.
 */
import { describe, expect, it } from "vitest";
import { WrongReceiverError } from "../../src/platform/crypto.js";
import { messageXml, openPush, pushQueryOf, sealPush, type PushEnvelope, type PushKeys } from "../../src/platform/push.js";

const AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
const SUITE: PushKeys = { token: "suite-callback-token", encodingAesKey: AES_KEY, receiverId: "wwsuite0000000001" };
const COMPONENT: PushKeys = { token: "component-push-token", encodingAesKey: AES_KEY, receiverId: "wxcomponent000001" };

function sealed(keys: PushKeys, envelope: PushEnvelope, fields: Record<string, string | number>) {
  const { query, body } = sealPush(keys, messageXml(fields), 1_700_000_000, "12345", envelope);
  return { query: pushQueryOf(query), body };
}

describe("the push envelope", () => {
  it("opens a WeCom suite's push (ToUserName, no encrypt_type) for that suite id", () => {
    const fields = { SuiteId: SUITE.receiverId, InfoType: "suite_ticket", TimeStamp: 1_700_000_000, SuiteTicket: "ticket-1" };
    const { query, body } = sealed(SUITE, "wecom", fields);
    expect(query.encryptType).toBeUndefined();
    expect(body).toContain(`<ToUserName><![CDATA[${SUITE.receiverId}]]></ToUserName>`);
    expect(openPush(SUITE, query, body)).toEqual({ SuiteId: SUITE.receiverId, InfoType: "suite_ticket", TimeStamp: "1700000000", SuiteTicket: "ticket-1" });
  });

  it("refuses a suite push whose envelope or message names another suite", () => {
    // The signature covers only <Encrypt>: an envelope naming another suite is caught by its own check.
    const { query, body } = sealed(SUITE, "wecom", { InfoType: "suite_ticket", SuiteTicket: "t" });
    const renamed = body.replace(SUITE.receiverId, "wwsuite0000000002");
    expect(renamed).not.toBe(body);
    expect(() => openPush(SUITE, query, renamed)).toThrow(WrongReceiverError);
    // Sealed for another suite with the same keys: the id inside the message differs.
    const other = sealed({ ...SUITE, receiverId: "wwsuite0000000002" }, "wecom", { InfoType: "suite_ticket", SuiteTicket: "t" });
    expect(() => openPush(SUITE, other.query, other.body)).toThrow(WrongReceiverError);
  });

  it("still opens the Open Platform's envelope (AppId, encrypt_type=aes) and refuses another component's", () => {
    const { query, body } = sealed(COMPONENT, "open-platform", { AppId: COMPONENT.receiverId, InfoType: "component_verify_ticket", ComponentVerifyTicket: "cvt" });
    expect(query.encryptType).toBe("aes");
    expect(openPush(COMPONENT, query, body)["ComponentVerifyTicket"]).toBe("cvt");
    expect(() => openPush({ ...COMPONENT, receiverId: "wxcomponent000002" }, query, body)).toThrow(WrongReceiverError);
  });
});

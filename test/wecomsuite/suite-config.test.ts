/**
 * The wecomProviders config fragment: defaults, what it refuses, and that a
 * provider's corpid alone (for WeCom's URL check) holds no provider token.
 */
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { AES_KEY } from "../support/fake-suite.js";

const env = { S: "suite-secret", T: "callback-token", K: AES_KEY, P: "provider-secret" };
const suite = (o: Record<string, unknown> = {}) => ({ suiteId: "wwsuite00000000001", secretEnv: "S", messageTokenEnv: "T", encodingAesKeyEnv: "K", ...o });
const load = (wecomProviders: unknown, more: Record<string, unknown> = {}) => parseConfig({ wecomProviders, ...more }, { env });

describe("wecomProviders", () => {
  it("defaults the path and the kind of app from the suite id, and hides the secrets", () => {
    const loaded = load({ suites: [suite(), suite({ suiteId: "dk0000000000000001" })] });
    expect(loaded.suites.map((s) => [s.path, s.customApp])).toEqual([
      ["/wechat/wecom/wwsuite00000000001", false],
      ["/wechat/wecom/dk0000000000000001", true],
    ]);
    expect(String(loaded.suites[0]!.secret)).toBe("***");
    expect(loaded.suites[0]!.maxClockSkewMs).toBe(300_000);
    expect(loaded.provider).toBeUndefined();
  });

  it("takes a provider's corpid alone (the URL check) or with its secret (provider_access_token)", () => {
    expect(load({ provider: { corpId: "wwprovider00000001" }, suites: [suite()] }).provider).toEqual({ corpId: "wwprovider00000001" });
    expect(load({ provider: { corpId: "wwprovider00000001" }, suites: [suite()] }).suites[0]!.providerCorpId).toBe("wwprovider00000001");
    expect(String(load({ provider: { corpId: "wwprovider00000001", secretEnv: "P" } }).provider!.secret)).toBe("***");
    expect(() => load({ provider: { corpId: "wwprovider00000001", secretEnv: "P", secret: "x" } })).toThrow(/at most one of secretEnv, secretFile or secret/);
  });

  it("refuses what would collide or cannot work, naming the key", () => {
    expect(() => load({ suites: [] })).toThrow(/wecomProviders: configure at least one suite \(or the provider\)/);
    expect(() => load({ suites: [suite(), suite()] })).toThrow(/wecomProviders\.suites\[1\]\.suiteId: duplicate of wecomProviders\.suites\[0\]/);
    expect(() => load({ suites: [suite(), suite({ suiteId: "wwsuite00000000002", path: "/wechat/wecom/wwsuite00000000001" })] })).toThrow(
      /wecomProviders\.suites\[1\]\.path: "\/wechat\/wecom\/wwsuite00000000001" is already the path of wecomProviders\.suites\[0\]/,
    );
    expect(() => load({ suites: [suite()] }, { apps: [{ type: "wecom", corpId: "wwsuite00000000001", agent: "1", secretEnv: "S" }] })).toThrow(/is also configured under apps/);
    expect(() => load({ provider: { corpId: "wwprovider00000001", secretEnv: "P" } }, { apps: [{ type: "wecom", corpId: "wwprovider00000001", agent: "1", secretEnv: "S" }] })).toThrow(
      /wecomProviders\.provider\.corpId: "wwprovider00000001" is also configured under apps \(a grant on that corpid would reach the provider token\)/,
    );
    expect(() => parseConfig({ wecomProviders: { suites: [suite()] } }, { env: { ...env, K: "short" } })).toThrow(/suites\[0\]\.encodingAesKey: must be the 43-character EncodingAESKey/);
    expect(() => load({ suites: [suite({ messageToken: "literal" })] })).toThrow(/exactly one of messageTokenEnv, messageTokenFile or messageToken/);
    expect(() =>
      load({ receiver: { listen: "127.0.0.1:0" }, suites: [suite()] }, { openPlatform: { platforms: [{ componentAppId: "wxcomponent0000001", secretEnv: "S", messageTokenEnv: "T", encodingAesKeyEnv: "K" }] } }),
    ).toThrow(/wecomProviders\.receiver: the push receiver is one listener: with openPlatform configured, set it at openPlatform\.receiver/);
  });
});

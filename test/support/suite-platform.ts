/**
 * WeCom suites under test: the real server with a `wecomProviders` section
 * (a third-party suite SUITE, a 代开发 template DK and the provider's own
 * secret) and its push receiver on a free port, the fake WeChat's suites
 * pushing to it over real HTTP, one fake clock.
 */
import { Metadata } from "@grpc/grpc-js";
import { ListAuthorizersRequest, ListAuthorizersResponse } from "../../generated/wxtoken/v1/token_service.js";
import type { FakeClock } from "../../src/clock.js";
import type { TokenStore } from "../../src/core/store.js";
import type { FakeSuite, FakeWeChat, FakeWeChatOptions } from "../../src/fake-wechat/index.js";
import { AES_KEY, CALLBACK_TOKEN, DK, SUITE, SUITE_SECRET } from "./fake-suite.js";
import { Harness, type HarnessOptions } from "./harness.js";

export { AES_KEY, CALLBACK_TOKEN, DK, SUITE, SUITE_SECRET } from "./fake-suite.js";
export const PROVIDER = "wwprovider00000001";
export const PROVIDER_SECRET = "provider-secret-NEVER-LEAK";
export const CORP1 = "wwcorp000000000001";
export const CORP2 = "wwcorp000000000002";

export interface SuiteHarnessOptions {
  clock?: FakeClock;
  /** More options of the harness's own fake WeChat (self-built WeCom corps, say). */
  fake?: HarnessOptions["fakeOptions"];
  /**
   * A fake WeChat the test owns instead of the harness's own (made with
   * suiteFakeOptions() on the `clock` given here too, started, and closed by
   * the test): one WeCom across a server's restart, or shared by replicas.
   * Its suites are pointed at this server's receiver as it starts.
   */
  wechat?: FakeWeChat;
  store?: TokenStore;
  storePath?: string;
  /** More keys of each suite's config entry. */
  suite?: Record<string, unknown>;
  config?: HarnessOptions["config"];
  apps?: unknown[];
  apiKey?: string;
  env?: Record<string, string>;
}

/** The options of a fake WeChat with the suites SUITE and DK and the provider PROVIDER, as the harness makes its own. */
export function suiteFakeOptions(clock: FakeClock, more: HarnessOptions["fakeOptions"] = {}): FakeWeChatOptions {
  const keys = { secret: SUITE_SECRET, token: CALLBACK_TOKEN, encodingAesKey: AES_KEY };
  return {
    apps: {},
    clock,
    suites: [
      { suiteId: SUITE, ...keys },
      { suiteId: DK, ...keys },
    ],
    wecomProviders: { [PROVIDER]: PROVIDER_SECRET },
    ...more,
  };
}

export class SuiteHarness {
  private constructor(readonly h: Harness) {}

  static async start(o: SuiteHarnessOptions = {}): Promise<SuiteHarness> {
    const keys = { secret: SUITE_SECRET, token: CALLBACK_TOKEN, encodingAesKey: AES_KEY };
    const entry = (suiteId: string) => ({
      suiteId,
      secretEnv: "SUITE_SECRET",
      messageTokenEnv: "CALLBACK_TOKEN",
      encodingAesKeyEnv: "AES_KEY",
      corpTickets: ["jsapi", "agent_config"],
      ...o.suite,
    });
    const h = await Harness.start({
      clock: o.clock,
      fake: o.wechat,
      store: o.store,
      storePath: o.storePath,
      apiKey: o.apiKey,
      apps: o.apps ?? [],
      fakeOptions: {
        suites: [
          { suiteId: SUITE, ...keys },
          { suiteId: DK, ...keys },
        ],
        wecomProviders: { [PROVIDER]: PROVIDER_SECRET },
        ...o.fake,
      },
      env: { SUITE_SECRET, CALLBACK_TOKEN, AES_KEY, PROVIDER_SECRET, ...o.env },
      config: {
        ...o.config,
        wecomProviders: {
          receiver: { listen: "127.0.0.1:0" },
          provider: { corpId: PROVIDER, secretEnv: "PROVIDER_SECRET" },
          suites: [entry(SUITE), entry(DK)],
        },
      },
    });
    const harness = new SuiteHarness(h);
    for (const id of [SUITE, DK]) h.fake.suite(id).pushUrl = harness.pushUrl(id);
    return harness;
  }

  get fake(): FakeWeChat {
    return this.h.fake;
  }

  get clock(): FakeClock {
    return this.h.clock;
  }

  suite(id = SUITE): FakeSuite {
    return this.fake.suite(id);
  }

  pushUrl(suiteId = SUITE): string {
    return `http://127.0.0.1:${this.h.server.receiverPort}/wechat/wecom/${suiteId}`;
  }

  list(page: Partial<ListAuthorizersRequest> = {}, deadlineMs = 5000): Promise<ListAuthorizersResponse> {
    const req = ListAuthorizersRequest.fromPartial({ componentAppId: SUITE, ...page });
    return new Promise((resolve, reject) =>
      this.h.client.listAuthorizers(req, new Metadata(), { deadline: Date.now() + deadlineMs }, (err, res) => (err ? reject(err) : resolve(res))),
    );
  }

  /** Upstream calls the server made to a service endpoint ("get_suite_token", ...), for one suite (or "suite/corp") when given. */
  calls(endpoint: string, about?: string): number {
    return this.fake.calls(`/cgi-bin/service/${endpoint}`, about);
  }

  stop(): Promise<void> {
    return this.h.stop();
  }
}

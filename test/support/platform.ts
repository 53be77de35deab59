/**
 * An Open Platform under test: the real server with an `openPlatform` section
 * and its push receiver on a free port, the fake WeChat's component pushing
 * to it over real HTTP, one fake clock.
 */
import { Metadata } from "@grpc/grpc-js";
import { ListAuthorizersRequest, ListAuthorizersResponse, SyncAuthorizersResponse } from "../../generated/wxtoken/v1/token_service.js";
import type { FakeClock } from "../../src/clock.js";
import type { TokenStore } from "../../src/core/store.js";
import type { FakeWeChat } from "../../src/fake-wechat/index.js";
import { expect } from "vitest";
import { eventually, Harness, type HarnessOptions } from "./harness.js";

export const COMPONENT = "wxcomponent0000001";
export const COMPONENT_SECRET = "component-secret-SHOULD-NEVER-LEAK";
export const MESSAGE_TOKEN = "push-token-SHOULD-NEVER-LEAK";
export const AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
export const PUSH_PATH = `/wechat/open/${COMPONENT}`;
export const AUTH1 = "wxauthorizer000001";
export const AUTH2 = "wxauthorizer000002";

export interface PlatformOptions {
  clock?: FakeClock;
  fake?: FakeWeChat;
  store?: TokenStore;
  storePath?: string;
  /** Accounts the fake holds authorized before the server starts (WeChat's list knows them). */
  authorizers?: string[];
  /** This many more, named seededAuthorizerAppId(0 .. n-1): a platform at scale. */
  seedAuthorizers?: number;
  /** More keys of the platform's config entry. */
  platform?: Record<string, unknown>;
  config?: HarnessOptions["config"];
  /** Other apps under `apps` (default none). */
  apps?: unknown[];
  upstreamTimeoutMs?: number;
  /** The harness client's API key (with an `auth` section in config). */
  apiKey?: string;
  /** Injected into the fake before the server starts. */
  faults?: HarnessOptions["faults"];
}

/** The fake's component options for COMPONENT. */
export function componentOptions(authorizers: string[] = []) {
  return {
    appId: COMPONENT,
    secret: COMPONENT_SECRET,
    token: MESSAGE_TOKEN,
    encodingAesKey: AES_KEY,
    authorizers: Object.fromEntries(authorizers.map((a) => [a, {}])),
  };
}

export class PlatformHarness {
  private constructor(readonly h: Harness) {}

  static async start(o: PlatformOptions = {}): Promise<PlatformHarness> {
    const h = await Harness.start({
      clock: o.clock,
      fake: o.fake,
      store: o.store,
      storePath: o.storePath,
      upstreamTimeoutMs: o.upstreamTimeoutMs,
      faults: o.faults,
      apiKey: o.apiKey,
      apps: o.apps ?? [],
      fakeOptions: { component: { ...componentOptions(o.authorizers), seedAuthorizers: o.seedAuthorizers } },
      env: { COMPONENT_SECRET, MESSAGE_TOKEN, AES_KEY },
      config: {
        ...o.config,
        openPlatform: {
          receiver: { listen: "127.0.0.1:0" },
          platforms: [
            {
              componentAppId: COMPONENT,
              secretEnv: "COMPONENT_SECRET",
              messageTokenEnv: "MESSAGE_TOKEN",
              encodingAesKeyEnv: "AES_KEY",
              ...o.platform,
            },
          ],
        },
      },
    });
    h.fake.component.pushUrl = `http://127.0.0.1:${h.server.receiverPort}${PUSH_PATH}`;
    return new PlatformHarness(h);
  }

  get fake(): FakeWeChat {
    return this.h.fake;
  }

  get clock(): FakeClock {
    return this.h.clock;
  }

  get pushUrl(): string {
    return `http://127.0.0.1:${this.h.server.receiverPort}${PUSH_PATH}`;
  }

  /** One page of ListAuthorizers (the first, of 100, unless `page` says otherwise). */
  list(page: Partial<ListAuthorizersRequest> = {}, deadlineMs = 5000): Promise<ListAuthorizersResponse> {
    const req = ListAuthorizersRequest.fromPartial({ componentAppId: COMPONENT, ...page });
    return new Promise((resolve, reject) =>
      this.h.client.listAuthorizers(req, new Metadata(), { deadline: Date.now() + deadlineMs }, (err, res) => (err ? reject(err) : resolve(res))),
    );
  }

  sync(deadlineMs = 5000): Promise<SyncAuthorizersResponse> {
    return new Promise((resolve, reject) =>
      this.h.client.syncAuthorizers({ componentAppId: COMPONENT }, new Metadata(), { deadline: Date.now() + deadlineMs }, (err, res) => (err ? reject(err) : resolve(res))),
    );
  }

  /** Upstream calls the server made to a component endpoint ("api_component_token", ...). */
  calls(endpoint: string, appId?: string): number {
    return this.fake.calls(`/cgi-bin/component/${endpoint}`, appId);
  }

  stop(): Promise<void> {
    return this.h.stop();
  }
}

/** Advances the platform's fake clock by `stepMs` (0: lets its timers due now run) until `check` passes (real time, for I/O). */
export function until(p: PlatformHarness, check: () => void | Promise<void>, stepMs = 0, timeoutMs = 5000): Promise<void> {
  return eventually(async () => {
    await p.clock.advance(stepMs);
    await check();
  }, timeoutMs);
}

/** Waits until a started platform holds its component token (and made the one list read a platform with no authorizer stored makes). */
export async function componentTokenReady(p: PlatformHarness): Promise<PlatformHarness> {
  await until(p, async () => {
    const t = await p.h.getToken(COMPONENT, 300);
    expect(p.fake.component.isComponentTokenValid(t.token!.accessToken)).toBe(true);
    expect(p.calls("api_get_authorizer_list")).toBe(1);
  });
  return p;
}

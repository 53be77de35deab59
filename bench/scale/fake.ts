/**
 * The bench's handle on the fake WeChat process (fake-process.ts): started
 * with N seeded authorizers and a token lifetime, then read and driven over
 * its HTTP control API.
 */
import { request } from "undici";
import type { AuthorizerTokenProgress, RatesSnapshot } from "../../src/fake-wechat/index.js";
import { LoadProcess } from "../support/child.js";

export const COMPONENT = "wxbenchcomponent01";
export const COMPONENT_ENV = {
  BENCH_COMPONENT_SECRET: "bench-component-secret-0123456789",
  BENCH_MESSAGE_TOKEN: "bench-push-token",
  BENCH_AES_KEY: "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
};
export const AUTHORIZER_TOKEN_PATH = "/cgi-bin/component/api_authorizer_token";

export interface FakeStart {
  type: "start";
  component: { appId: string; secret: string; token: string; encodingAesKey: string; pushUrl: string };
  authorizers: number;
  /** Seconds the component and authorizer tokens live. */
  expiresIn: number;
}

type FromFake = { type: "ready"; url: string };

export class FakeProcess {
  private constructor(
    private readonly child: LoadProcess<FromFake>,
    readonly url: string,
  ) {}

  /** Seeding a million accounts takes a few seconds and about 1 GB: the heap limit is raised for it. */
  static async start(authorizers: number, expiresIn: number, pushUrl: string): Promise<FakeProcess> {
    // LoadProcess resolves scripts from bench/load/; this one lives next to this file.
    const child = new LoadProcess<FromFake>("../scale/fake-process.js", ["--max-old-space-size=8192"]);
    const component = { appId: COMPONENT, secret: COMPONENT_ENV.BENCH_COMPONENT_SECRET, token: COMPONENT_ENV.BENCH_MESSAGE_TOKEN, encodingAesKey: COMPONENT_ENV.BENCH_AES_KEY, pushUrl };
    child.send({ type: "start", component, authorizers, expiresIn } satisfies FakeStart);
    const ready = await child.next("ready", 120_000);
    return new FakeProcess(child, ready.url);
  }

  progress(): Promise<AuthorizerTokenProgress> {
    return this.json("GET", "/_fake/component/progress");
  }

  rates(): Promise<RatesSnapshot> {
    return this.json("GET", "/_fake/rates");
  }

  /** Zeroes the call counts and the busiest-second and busiest-minute rates. */
  async resetCounts(): Promise<void> {
    await this.json("DELETE", "/_fake/stats");
  }

  /** The account authorizes: the fake pushes `authorized` to the server's receiver. */
  async authorize(appId: string): Promise<void> {
    const r = await this.json<{ ok?: boolean; error?: string; receiverStatus?: number }>("POST", `/_fake/component/authorize?appid=${appId}`);
    if (!r.ok) throw new Error(`authorize ${appId}: ${r.error ?? `receiver answered ${r.receiverStatus}`}`);
  }

  stop(): Promise<void> {
    return this.child.stop();
  }

  private async json<T>(method: "GET" | "POST" | "DELETE", path: string): Promise<T> {
    const res = await request(`${this.url}${path}`, { method });
    return (await res.body.json()) as T;
  }
}

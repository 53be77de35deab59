import { FakeWeChat, type FakeSuiteOptions } from "../fake-wechat/index.js";
import { untilSignal } from "./serve.js";

/** `wxtoken fake-wechat`: the fake upstream as its own process (for manual tests and other languages' tests). */
/** --component APPID:SECRET:TOKEN:AESKEY: an Open Platform component (its EncodingAESKey is 43 characters, without colons). */
function componentOf(spec: string | undefined, pushUrl: string | undefined) {
  if (spec === undefined) {
    if (pushUrl !== undefined) throw new Error("--push-url needs --component");
    return undefined;
  }
  const [appId, secret, token, encodingAesKey, ...rest] = spec.split(":");
  if (!appId || !secret || !token || !encodingAesKey || rest.length > 0) throw new Error("--component takes APPID:SECRET:TOKEN:AESKEY");
  return { appId, secret, token, encodingAesKey, pushUrl };
}

/** --suite ID:SECRET:TOKEN:AESKEY[:PUSHURL]: a WeCom suite (a 代开发 template when ID starts with dk) and its 指令回调URL. */
function suiteOf(spec: string): FakeSuiteOptions {
  const [suiteId, secret, token, encodingAesKey, ...url] = spec.split(":");
  if (!suiteId || !secret || !token || !encodingAesKey || encodingAesKey.length !== 43) throw new Error("--suite takes SUITEID:SECRET:TOKEN:AESKEY[:PUSHURL] (the EncodingAESKey is 43 characters)");
  return { suiteId, secret, token, encodingAesKey, ...(url.length > 0 ? { pushUrl: url.join(":") } : {}) };
}

export async function fakeWeChatCommand(opts: {
  host?: string;
  port?: number;
  apps: string[];
  expiresIn?: number;
  component?: string;
  pushUrl?: string;
  suites?: string[];
  /** --provider CORPID:SECRET: a WeCom provider's own corpid and provider_secret (get_provider_token). */
  providers?: string[];
}): Promise<void> {
  const apps: Record<string, string> = {};
  for (const pair of opts.apps.length > 0 ? opts.apps : ["wxdemo0000000001:demo-secret-1"]) {
    const i = pair.indexOf(":");
    if (i <= 0) throw new Error(`--app takes APPID:SECRET, got "${pair.slice(0, 40)}"`);
    apps[pair.slice(0, i)] = pair.slice(i + 1);
  }
  const component = componentOf(opts.component, opts.pushUrl);
  const suites = (opts.suites ?? []).map(suiteOf);
  const providers: Record<string, string> = {};
  for (const pair of opts.providers ?? []) {
    const i = pair.indexOf(":");
    if (i <= 0 || i === pair.length - 1) throw new Error(`--provider takes CORPID:SECRET, got "${pair.slice(0, i > 0 ? i : 40)}..."`);
    providers[pair.slice(0, i)] = pair.slice(i + 1);
  }
  if (Object.keys(providers).length > 0 && suites.length === 0) throw new Error("--provider needs a --suite (the provider token is served on WeCom's host)");
  const fake = new FakeWeChat({
    apps,
    host: opts.host ?? "127.0.0.1",
    port: opts.port ?? 18080,
    expiresIn: opts.expiresIn,
    component,
    ...(suites.length > 0 ? { suites, wecomProviders: providers } : {}),
  });
  const url = await fake.start();
  process.stdout.write(
    `fake WeChat listening on ${url}\napps: ${Object.keys(apps).join(", ")}\n` +
      `control: curl -X POST ${url}/_fake/faults -d '{"errcode":-1,"times":3}'   |   curl ${url}/_fake/stats\n` +
      (component
        ? `component: ${component.appId}, pushing to ${component.pushUrl ?? "(no --push-url)"} every 10 minutes\n` +
          `  curl -X POST ${url}/_fake/component/push-ticket   |   curl -X POST "${url}/_fake/component/authorize?appid=wx..."\n`
        : "") +
      suites
        .map(
          (s) =>
            `suite: ${s.suiteId} on WeCom's host ${fake.wecomUrl}, pushing suite_tickets to ${s.pushUrl ?? "(no push URL)"} every 10 minutes\n` +
            `  curl -X POST "${url}/_fake/suite/push-ticket?suite=${s.suiteId}"   |   curl -X POST "${url}/_fake/suite/install?suite=${s.suiteId}&corpid=ww...[&via=redirect]"\n` +
            `  curl -X POST "${url}/_fake/suite/verify-url?suite=${s.suiteId}"   (the URL check WeCom's console makes when the 指令回调URL is saved)\n`,
        )
        .join("") +
      Object.keys(providers)
        .map((corpId) => `provider: ${corpId} (get_provider_token with its secret) on WeCom's host ${fake.wecomUrl}\n`)
        .join(""),
  );
  await untilSignal();
  await fake.close();
  process.exit(0);
}

/**
 * `wxtoken demo`: the fake WeChat and the server together, with sample apps
 * (an Official Account with its JS-SDK tickets, a second one, and a WeCom
 * corp with an agent and a built-in app), an Open Platform with two
 * authorizers, and a WeCom service provider's suite installed by two corps
 * (one by push, one by redirect code) plus a 代开发 template, with short-lived
 * tokens so that a refresh can be watched within a minute. Needs nothing
 * outside this package.
 */
import { FakeWeChat } from "../fake-wechat/index.js";
import { parseConfig } from "../config/load.js";
import { createLogger } from "../log.js";
import type { Signed } from "../core/signer.js";
import { WxTokenServer } from "../wxtoken.js";
import { untilSignal } from "./serve.js";

export const DEMO_APPS: Record<string, string> = {
  wxdemo0000000001: "demo-secret-one-0123456789abcdef",
  wxdemo0000000002: "demo-secret-two-0123456789abcdef",
};

export const DEMO_CORP = "wwdemo0000000001";
export const DEMO_AGENT = "1000002";
const DEMO_WECOM = { [DEMO_CORP]: { [DEMO_AGENT]: "demo-agent-secret-0123456789abcdef", contacts: "demo-contacts-secret-0123456789ab" } };

/** An Open Platform (第三方平台) with two accounts that authorize it once the server runs. */
export const DEMO_COMPONENT = {
  appId: "wxdemocomponent01",
  secret: "demo-component-secret-0123456789ab",
  token: "demo-push-token",
  encodingAesKey: "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
};
export const DEMO_AUTHORIZERS = ["wxdemoauthorizer1", "wxdemoauthorizer2"];

/** A WeCom service provider (企业微信服务商): its own corpid and provider_secret. */
export const DEMO_PROVIDER = { corpId: "wwdemoprovider001", secret: "demo-provider-secret-0123456789ab" };
/** The provider's third-party app (suite): two corps install it once the server runs. */
export const DEMO_SUITE = {
  suiteId: "wwdemosuite000001",
  secret: "demo-suite-secret-0123456789abcdef",
  token: "demo-suite-push-token",
  encodingAesKey: "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut",
};
/** A 代开发 template (its id starts with dk): the first corp installs it too, so its tokens there are distinct. */
export const DEMO_DK = { ...DEMO_SUITE, suiteId: "dkdemotemplate0001", secret: "demo-dk-secret-0123456789abcdef01" };
/** The corps that install the suite: the first from WeCom (create_auth pushed), the second on the provider's site (auth code by redirect). */
export const DEMO_SUITE_CORPS = ["wwdemocorp0000001", "wwdemocorp0000002"] as const;

export async function demoCommand(opts: { listen?: string; expiresIn?: number }): Promise<void> {
  const listen = opts.listen ?? "127.0.0.1:50051";
  const expiresIn = opts.expiresIn ?? 120;
  const fake = new FakeWeChat({
    apps: DEMO_APPS,
    expiresIn,
    overlapMs: 30_000,
    ticketExpiresIn: expiresIn,
    wecom: DEMO_WECOM,
    wecomExpiresIn: expiresIn,
    component: { ...DEMO_COMPONENT, expiresIn },
    suites: [
      { ...DEMO_SUITE, expiresIn },
      { ...DEMO_DK, expiresIn },
    ],
    wecomProviders: { [DEMO_PROVIDER.corpId]: DEMO_PROVIDER.secret },
  });
  const upstreamUrl = await fake.start();
  const [app, app2] = Object.keys(DEMO_APPS) as [string, string];
  const loaded = parseConfig(
    {
      listen,
      upstream: { baseUrl: upstreamUrl, wecomBaseUrl: fake.wecomUrl },
      store: { type: "memory" },
      // The HTTP/JSON API too, on a free port (printed below).
      http: { listen: "127.0.0.1:0" },
      // Metrics, the status page and the probes, on a free port too.
      metrics: { listen: "127.0.0.1:0" },
      refresh: { marginSeconds: 30, jitterSeconds: 5 },
      // The push receiver on a free port (one listener for the Open Platform and the WeCom suites); the fake pushes to it.
      openPlatform: {
        receiver: { listen: "127.0.0.1:0" },
        platforms: [
          {
            componentAppId: DEMO_COMPONENT.appId,
            secretEnv: "DEMO_COMPONENT_SECRET",
            messageTokenEnv: "DEMO_PUSH_TOKEN",
            encodingAesKeyEnv: "DEMO_AES_KEY",
            authorizerTickets: ["jsapi"],
          },
        ],
      },
      // A WeCom service provider: its provider token, a suite and a 代开发 template, each installed corp's token and tickets.
      wecomProviders: {
        provider: { corpId: DEMO_PROVIDER.corpId, secretEnv: "DEMO_PROVIDER_SECRET" },
        suites: [DEMO_SUITE, DEMO_DK].map((s) => ({
          suiteId: s.suiteId,
          secretEnv: s === DEMO_SUITE ? "DEMO_SUITE_SECRET" : "DEMO_DK_SECRET",
          messageTokenEnv: "DEMO_SUITE_PUSH_TOKEN",
          encodingAesKeyEnv: "DEMO_SUITE_AES_KEY",
          corpTickets: ["jsapi", "agent_config"],
        })),
      },
      apps: [
        { appId: app, secretEnv: "DEMO_SECRET_1", tickets: ["jsapi", "wx_card"] },
        { appId: app2, secretEnv: "DEMO_SECRET_2" },
        { type: "wecom", corpId: DEMO_CORP, agent: DEMO_AGENT, secretEnv: "DEMO_AGENT_SECRET", tickets: ["jsapi", "agent_config"] },
        { type: "wecom", corpId: DEMO_CORP, agent: "contacts", secretEnv: "DEMO_CONTACTS_SECRET" },
      ],
    },
    {
      env: {
        DEMO_SECRET_1: DEMO_APPS[app]!,
        DEMO_SECRET_2: DEMO_APPS[app2]!,
        DEMO_AGENT_SECRET: DEMO_WECOM[DEMO_CORP][DEMO_AGENT],
        DEMO_CONTACTS_SECRET: DEMO_WECOM[DEMO_CORP].contacts,
        DEMO_COMPONENT_SECRET: DEMO_COMPONENT.secret,
        DEMO_PUSH_TOKEN: DEMO_COMPONENT.token,
        DEMO_AES_KEY: DEMO_COMPONENT.encodingAesKey,
        DEMO_PROVIDER_SECRET: DEMO_PROVIDER.secret,
        DEMO_SUITE_SECRET: DEMO_SUITE.secret,
        DEMO_DK_SECRET: DEMO_DK.secret,
        DEMO_SUITE_PUSH_TOKEN: DEMO_SUITE.token,
        DEMO_SUITE_AES_KEY: DEMO_SUITE.encodingAesKey,
      },
    },
  );
  const log = createLogger({ level: "info" });
  const server = await WxTokenServer.create(loaded, { log });
  const port = await server.listen(listen);
  const addr = listen.replace(/:\d+$/, `:${port}`);
  // WeChat's side of the Open Platform: a ticket push (the server asked for one), then two accounts authorize.
  const pushUrl = `http://127.0.0.1:${server.receiverPort}/wechat/open/${DEMO_COMPONENT.appId}`;
  fake.component.pushUrl = pushUrl;
  await fake.component.pushTicket();
  await waitFor(() => server.credential(DEMO_COMPONENT.appId).current() !== undefined, "the component token");
  for (const a of DEMO_AUTHORIZERS) await fake.component.authorize(a);
  const suite = await installDemoSuite(fake, server);
  const signed = await server.signer.sign({ appId: app, kind: "config", url: "https://h5.example.com/demo", cardValues: [] });
  const [corp1, corp2] = DEMO_SUITE_CORPS;
  const suiteId = DEMO_SUITE.suiteId;
  process.stdout.write(`
wxtoken demo is running (Ctrl-C to stop)
  gRPC server:  ${addr}   (reflection and grpc.health.v1 on)
  HTTP API:     http://127.0.0.1:${server.httpPort}   (JSON and server-sent events: docs/http-api.md)
  metrics:      http://127.0.0.1:${server.metricsPort}/metrics   (Prometheus; probes /healthz and /readyz on the same port)
  status page:  http://127.0.0.1:${server.metricsPort}/status   (every credential's state, in a browser; JSON: /status.json)
  fake WeChat:  ${upstreamUrl}   (tokens and tickets live ${expiresIn}s, refreshed ~30s before expiry)
  fake WeCom:   ${fake.wecomUrl}   (WeCom's API host; the /_fake/ control routes are on the fake WeChat's port)
  apps:         ${app} (with its jsapi and wx_card tickets), ${app2}
  platform:     ${DEMO_COMPONENT.appId} (第三方平台), authorized by ${DEMO_AUTHORIZERS.join(" and ")}
  push URL:     ${pushUrl}   (the authorization event URL WeChat posts to)
  WeCom:        corp ${DEMO_CORP}: agent ${DEMO_AGENT} (corp jsapi and agent_config tickets), contacts
  WeCom suite:  ${suiteId} (第三方应用 of provider ${DEMO_PROVIDER.corpId}), installed by ${corp1} (create_auth pushed) and ${corp2} (auth code by redirect, through AuthorizeByCode); each corp's token and jsapi and agent_config tickets
  代开发:       ${DEMO_DK.suiteId} (template), installed by ${corp1}: its token there comes from gettoken with the permanent code
  suite push:   ${suite.pushUrls.join(" and ")}   (the 指令回调URLs WeCom posts suite_tickets and installs to)

A wx.config for https://h5.example.com/demo, signed with ${app}'s jsapi ticket v${signed.ticketVersion} (${signed.ticketFingerprint}):
  { appId: "${app}", timestamp: ${signed.timestamp}, nonceStr: "${signed.nonceStr}", signature: "${signed.signature}" }

A wx.agentConfig for https://h5.example.com/app in ${corp1} through ${suiteId} (agentid ${suite.agentConfig.agent} from the auth info):
  { corpid: "${corp1}", agentid: "${suite.agentConfig.agent}", timestamp: ${suite.agentConfig.timestamp}, nonceStr: "${suite.agentConfig.nonceStr}", signature: "${suite.agentConfig.signature}" }

Try, in another terminal:
  npx buf curl --protocol grpc --http2-prior-knowledge http://${addr}/wxtoken.v1.TokenService/GetToken -d '{"app_id":"${app}"}'
  npx buf curl --protocol grpc --http2-prior-knowledge --list-methods http://${addr}
  grpcurl -plaintext -d '{"app_id":"${app}"}' ${addr} wxtoken.v1.TokenService/GetToken
  grpcurl -plaintext ${addr} list
  node dist/src/cli/main.js get ${app} --addr ${addr}
  curl -s http://127.0.0.1:${server.httpPort}/v1/apps/${app}/token
  curl -sN http://127.0.0.1:${server.httpPort}/v1/apps/${app}/token:watch
  node dist/src/cli/main.js status --addr ${addr}
  curl -s http://127.0.0.1:${server.metricsPort}/metrics | grep wxtoken_credential
  node dist/src/cli/main.js get ${app} --kind jsapi --addr ${addr}
  node dist/src/cli/main.js sign ${app} 'https://h5.example.com/page?id=1#top' --addr ${addr}
  node dist/src/cli/main.js get ${DEMO_CORP} --agent ${DEMO_AGENT} --addr ${addr}
  node dist/src/cli/main.js sign ${DEMO_CORP} https://h5.example.com/app --kind agent_config --agent ${DEMO_AGENT} --addr ${addr}
  node dist/src/cli/main.js watch ${app} --addr ${addr}
  node dist/src/cli/main.js platform ${DEMO_COMPONENT.appId} --addr ${addr}
  node dist/src/cli/main.js get ${DEMO_AUTHORIZERS[0]} --addr ${addr}   (an authorizer's token)
  curl -X POST "${upstreamUrl}/_fake/component/authorize?appid=wxdemoauthorizer3"   (a third account authorizes)
  curl -X POST "${upstreamUrl}/_fake/component/deauthorize?appid=${DEMO_AUTHORIZERS[1]}"   (one leaves)
  node dist/src/cli/main.js get ${corp1} --platform ${suiteId} --addr ${addr}   (a corp's token through the suite)
  grpcurl -plaintext -d '{"app_id":"${corp2}","platform_id":"${suiteId}"}' ${addr} wxtoken.v1.TokenService/GetToken
  curl -s "http://127.0.0.1:${server.httpPort}/v1/apps/${corp1}/token?platform_id=${suiteId}"
  node dist/src/cli/main.js get ${corp1} --platform ${DEMO_DK.suiteId} --addr ${addr}   (the same corp through the 代开发 template: another token)
  node dist/src/cli/main.js get ${corp1} --platform ${suiteId} --kind agent_config --addr ${addr}
  node dist/src/cli/main.js sign ${corp1} https://h5.example.com/app --kind agent_config --platform ${suiteId} --addr ${addr}
  node dist/src/cli/main.js watch ${corp2} --platform ${suiteId} --addr ${addr}
  node dist/src/cli/main.js get ${suiteId} --addr ${addr}   (the suite_access_token)
  node dist/src/cli/main.js get ${DEMO_PROVIDER.corpId} --addr ${addr}   (the provider_access_token)
  node dist/src/cli/main.js platform ${suiteId} --addr ${addr}   (the installed corps)
  curl -X POST "${upstreamUrl}/_fake/suite/verify-url?suite=${suiteId}"   (the URL check WeCom's console makes when the 指令回调URL is saved)
  curl -X POST "${upstreamUrl}/_fake/suite/install?suite=${suiteId}&corpid=wwdemocorp0000003"   (a third corp installs: create_auth pushed)
  curl -X POST "${upstreamUrl}/_fake/suite/install?suite=${suiteId}&corpid=wwdemocorp0000004&via=redirect"   (one installs on your site: prints its authCode)
  echo AUTHCODE | node dist/src/cli/main.js authorize --platform ${suiteId} --code - --addr ${addr}   (hand that code over, as your redirect_uri handler would; from stdin, out of ps)
  curl -X POST "${upstreamUrl}/_fake/suite/cancel?suite=${suiteId}&corpid=${corp2}"   (one uninstalls: cancel_auth)
  curl -X POST "${upstreamUrl}/_fake/suite/push-ticket?suite=${suiteId}"   (a new suite_ticket now, as the console's 刷新ticket; WeCom pushes one every 10 minutes)
  curl -s "${upstreamUrl}/_fake/suite/corps?suite=${suiteId}"
  node dist/src/cli/main.js refresh ${app} --stale TOKEN --addr ${addr}
  node dist/src/cli/main.js callback-ip ${app} --addr ${addr} --wechat ${upstreamUrl} --repeat 20 --interval 3000
  curl -X POST "${upstreamUrl}/_fake/invalidate?appid=${app}"   (invalidate the token: callback-ip recovers)
  curl -X POST ${upstreamUrl}/_fake/faults -d '{"errcode":-1,"times":3}'   (make WeChat fail 3 times)

`);
  const signal = await untilSignal();
  log.info({ signal }, "signal received");
  await server.shutdown();
  await fake.close();
  process.exit(0);
}

/**
 * WeCom's side of the suites: each gets its push URL and a suite_ticket; the
 * first corp installs the suite from WeCom (create_auth pushed to the
 * receiver, which keeps the code, answers success, then exchanges it), the
 * second on the provider's site (its auth code handed to the platform as a
 * business server would through AuthorizeByCode), and the first installs the
 * 代开发 template too. Resolves once every corp's token is held, with a
 * wx.agentConfig signed for the first corp through the suite.
 */
async function installDemoSuite(fake: FakeWeChat, server: WxTokenServer): Promise<{ pushUrls: string[]; agentConfig: Signed }> {
  const [corp1, corp2] = DEMO_SUITE_CORPS;
  const pushUrls = [DEMO_SUITE, DEMO_DK].map((s) => {
    const url = `http://127.0.0.1:${server.receiverPort}/wechat/wecom/${s.suiteId}`;
    fake.suite(s.suiteId).pushUrl = url;
    return url;
  });
  const suite = fake.suite(DEMO_SUITE.suiteId);
  const dk = fake.suite(DEMO_DK.suiteId);
  await Promise.all([suite.pushTicket(), dk.pushTicket()]);
  await Promise.all([suite.install(corp1), dk.install(corp1)]);
  const platform = server.platforms.get(DEMO_SUITE.suiteId)!;
  await platform.authorizeByCode(suite.installByRedirect(corp2).authCode);
  const installs: [string, string][] = [
    [corp1, DEMO_SUITE.suiteId],
    [corp2, DEMO_SUITE.suiteId],
    [corp1, DEMO_DK.suiteId],
  ];
  const held = (corpId: string, suiteId: string): boolean => {
    if (!server.platforms.get(suiteId)!.holds(corpId)) return false;
    try {
      return server.credential(corpId, { platform: suiteId }).current() !== undefined;
    } catch {
      return false; // held, not yet served
    }
  };
  await waitFor(() => installs.every(([c, s]) => held(c, s)), "the installed corps' tokens");
  const agentConfig = await server.signer.sign({ appId: corp1, platform: DEMO_SUITE.suiteId, kind: "agent_config", url: "https://h5.example.com/app", cardValues: [] });
  return { pushUrls, agentConfig };
}

/** Polls (real time) until check holds, for up to 10 s. */
async function waitFor(check: () => boolean, what: string): Promise<void> {
  const end = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > end) throw new Error(`demo: ${what} did not arrive`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

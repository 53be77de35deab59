/**
 * `wxtoken demo`: the fake WeChat and the server together, with sample apps
 * (an Official Account with its JS-SDK tickets, a second one, and a WeCom
 * corp with an agent and a built-in app) and short-lived tokens so that a
 * refresh can be watched within a minute. Needs nothing outside this package.
 */
import { FakeWeChat } from "../fake-wechat/index.js";
import { parseConfig } from "../config/load.js";
import { createLogger } from "../log.js";
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
      // The Open Platform's push receiver on a free port; the fake pushes to it.
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
  await waitFor(() => server.credential(DEMO_COMPONENT.appId).current() !== undefined);
  for (const a of DEMO_AUTHORIZERS) await fake.component.authorize(a);
  const signed = await server.signer.sign({ appId: app, kind: "config", url: "https://h5.example.com/demo", cardValues: [] });
  process.stdout.write(`
wxtoken demo is running (Ctrl-C to stop)
  gRPC server:  ${addr}   (reflection and grpc.health.v1 on)
  HTTP API:     http://127.0.0.1:${server.httpPort}   (JSON and server-sent events: docs/http-api.md)
  metrics:      http://127.0.0.1:${server.metricsPort}/metrics   (Prometheus; probes /healthz and /readyz on the same port)
  status page:  http://127.0.0.1:${server.metricsPort}/status   (every credential's state, in a browser; JSON: /status.json)
  fake WeChat:  ${upstreamUrl}   (tokens and tickets live ${expiresIn}s, refreshed ~30s before expiry)
  fake WeCom:   ${fake.wecomUrl}
  apps:         ${app} (with its jsapi and wx_card tickets), ${app2}
  platform:     ${DEMO_COMPONENT.appId} (第三方平台), authorized by ${DEMO_AUTHORIZERS.join(" and ")}
  push URL:     ${pushUrl}   (the authorization event URL WeChat posts to)
  WeCom:        corp ${DEMO_CORP}: agent ${DEMO_AGENT} (corp jsapi and agent_config tickets), contacts

A wx.config for https://h5.example.com/demo, signed with ${app}'s jsapi ticket v${signed.ticketVersion} (${signed.ticketFingerprint}):
  { appId: "${app}", timestamp: ${signed.timestamp}, nonceStr: "${signed.nonceStr}", signature: "${signed.signature}" }

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

/** Polls (real time) until check holds, for up to 10 s. */
async function waitFor(check: () => boolean): Promise<void> {
  const end = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > end) throw new Error("demo: the component token did not arrive");
    await new Promise((r) => setTimeout(r, 20));
  }
}

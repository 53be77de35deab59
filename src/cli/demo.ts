/**
 * `wxtoken demo`: the fake WeChat and the server together, with sample apps
 * and short-lived tokens so that a refresh can be watched within a minute.
 * Needs nothing outside this package.
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

export async function demoCommand(opts: { listen?: string; expiresIn?: number }): Promise<void> {
  const listen = opts.listen ?? "127.0.0.1:50051";
  const expiresIn = opts.expiresIn ?? 120;
  const fake = new FakeWeChat({ apps: DEMO_APPS, expiresIn, overlapMs: 30_000 });
  const upstreamUrl = await fake.start();
  const loaded = parseConfig(
    {
      listen,
      upstream: { baseUrl: upstreamUrl },
      store: { type: "memory" },
      refresh: { marginSeconds: 30, jitterSeconds: 5 },
      apps: Object.keys(DEMO_APPS).map((appId) => ({ appId, secretEnv: `WXTOKEN_DEMO_SECRET_${appId}` })),
    },
    { env: Object.fromEntries(Object.entries(DEMO_APPS).map(([id, s]) => [`WXTOKEN_DEMO_SECRET_${id}`, s])) },
  );
  const log = createLogger({ level: "info" });
  const server = await WxTokenServer.create(loaded, { log });
  const port = await server.listen(listen);
  const addr = listen.replace(/:\d+$/, `:${port}`);
  const app = Object.keys(DEMO_APPS)[0];
  process.stdout.write(`
wxtoken demo is running (Ctrl-C to stop)
  gRPC server:  ${addr}   (reflection and grpc.health.v1 on)
  fake WeChat:  ${upstreamUrl}   (tokens live ${expiresIn}s, refreshed ~30s before expiry)
  apps:         ${Object.keys(DEMO_APPS).join(", ")}

Try, in another terminal:
  npx buf curl --protocol grpc --http2-prior-knowledge http://${addr}/wxtoken.v1.TokenService/GetToken -d '{"app_id":"${app}"}'
  npx buf curl --protocol grpc --http2-prior-knowledge --list-methods http://${addr}
  grpcurl -plaintext -d '{"app_id":"${app}"}' ${addr} wxtoken.v1.TokenService/GetToken
  grpcurl -plaintext ${addr} list
  node dist/src/cli/main.js get ${app} --addr ${addr}
  node dist/src/cli/main.js watch ${app} --addr ${addr}
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

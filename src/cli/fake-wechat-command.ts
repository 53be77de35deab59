import { FakeWeChat } from "../fake-wechat/index.js";
import { untilSignal } from "./serve.js";

/** `wxtoken fake-wechat`: the fake upstream as its own process (for manual tests and other languages' tests). */
export async function fakeWeChatCommand(opts: { host?: string; port?: number; apps: string[]; expiresIn?: number }): Promise<void> {
  const apps: Record<string, string> = {};
  for (const pair of opts.apps.length > 0 ? opts.apps : ["wxdemo0000000001:demo-secret-1"]) {
    const i = pair.indexOf(":");
    if (i <= 0) throw new Error(`--app takes APPID:SECRET, got "${pair.slice(0, 40)}"`);
    apps[pair.slice(0, i)] = pair.slice(i + 1);
  }
  const fake = new FakeWeChat({ apps, host: opts.host ?? "127.0.0.1", port: opts.port ?? 18080, expiresIn: opts.expiresIn });
  const url = await fake.start();
  process.stdout.write(
    `fake WeChat listening on ${url}\napps: ${Object.keys(apps).join(", ")}\n` +
      `control: curl -X POST ${url}/_fake/faults -d '{"errcode":-1,"times":3}'   |   curl ${url}/_fake/stats\n`,
  );
  await untilSignal();
  await fake.close();
  process.exit(0);
}

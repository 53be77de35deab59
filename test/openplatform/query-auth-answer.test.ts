/**
 * api_query_auth hands an authorizer's refresh token out once (the code then
 * answers 61009): a first authorizer_access_token in the answer that does not
 * read (no usable expires_in) must not cost the authorization. queryAuth
 * keeps the refresh token and leaves the token out, to be fetched as any
 * other. Against an HTTP server answering as WeChat would.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, expect, it } from "vitest";
import { queryAuth } from "../../src/openplatform/component-calls.js";
import { WeChatClient } from "../../src/upstream/wechat-client.js";

let server: Server | undefined;
let client: WeChatClient | undefined;
afterEach(async () => {
  await client?.close();
  await new Promise<void>((r) => (server ? (server.closeAllConnections(), server.close(() => r())) : r()));
  server = undefined;
});

async function wechatAnswering(info: Record<string, unknown>): Promise<WeChatClient> {
  server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ authorization_info: info }));
    });
  });
  await new Promise<void>((r) => server!.listen(0, "127.0.0.1", r));
  client = new WeChatClient({ baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, timeoutMs: 2000 });
  return client;
}

const withToken = <T>(_endpoint: string, _what: string, call: (token: string) => Promise<T>) => call("component-token");

it("keeps the refresh token when the first authorizer token does not read, and the token when it does", async () => {
  const bare = await wechatAnswering({ authorizer_appid: "wxauthorizer000001", authorizer_access_token: "first-token", authorizer_refresh_token: "refresh-once" });
  const kept = await queryAuth(bare, "wxcomponent0000001", "code-1", withToken);
  expect(kept).toEqual({ appId: "wxauthorizer000001", refreshToken: "refresh-once", fetched: undefined });
  await bare.close();
  client = undefined;
  await new Promise<void>((r) => (server!.closeAllConnections(), server!.close(() => r())));

  const full = await wechatAnswering({ authorizer_appid: "wxauthorizer000001", authorizer_access_token: "first-token", expires_in: 7200, authorizer_refresh_token: "refresh-once" });
  expect((await queryAuth(full, "wxcomponent0000001", "code-2", withToken)).fetched).toEqual({ value: "first-token", expiresIn: 7200 });
});

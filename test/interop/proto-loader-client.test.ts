/**
 * A client built at run time from proto/ with @grpc/proto-loader, as a Node
 * service that does not use our generated stubs would: the .proto files alone
 * are enough to call the server.
 */
import { credentials, loadPackageDefinition, type GrpcObject, type ServiceClientConstructor } from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { afterEach, expect, it } from "vitest";
import { APP, Harness } from "../support/harness.js";

let h: Harness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

it("calls GetToken through a client loaded from proto/ by @grpc/proto-loader", async () => {
  h = await Harness.start();
  const def = loadSync("wxtoken/v1/token_service.proto", { includeDirs: ["proto"], keepCase: true, longs: String, defaults: true });
  const pkg = loadPackageDefinition(def) as unknown as { wxtoken: { v1: GrpcObject } };
  const Client = pkg.wxtoken.v1.TokenService as ServiceClientConstructor;
  const client = new Client(`127.0.0.1:${h.port}`, credentials.createInsecure());
  const res = await new Promise<{ token: { app_id: string; access_token: string; version: string; expires_at: { seconds: string } } }>(
    (resolve, reject) => client.GetToken({ app_id: APP }, (err: Error | null, r: never) => (err ? reject(err) : resolve(r))),
  );
  client.close();
  expect(res.token.app_id).toBe(APP);
  expect(h.fake.isValid(APP, res.token.access_token)).toBe(true);
  expect(res.token.version).toBe("1");
  expect(Number(res.token.expires_at.seconds) * 1000).toBeGreaterThan(h.clock.now());
});

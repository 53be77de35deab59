/**
 * A call with two `authorization` entries: what reaches the server? Node's
 * HTTP/2 treats authorization as a single-value header and keeps only the
 * first field of a request, so the server never sees the second (and cannot
 * refuse the pair). A raw HTTP/2 client sends both fields, since grpc-js and
 * Node's http2 client refuse to.
 */
import { createServer, type IncomingHttpHeaders, type ServerHttp2Stream } from "node:http2";
import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { GetTokenRequest, GetTokenResponse } from "../../generated/wxtoken/v1/token_service.js";
import { generateApiKey, hashApiKey } from "../../src/auth/api-key.js";
import { ConfigAccessPolicy } from "../../src/auth/access-policy.js";
import type { AccessPolicy } from "../../src/core/access-policy.js";
import { APP, eventually, Harness } from "../support/harness.js";
import { RawH2Client } from "../support/raw-h2.js";

const KEY = generateApiKey();
const OTHER = generateApiKey();

let h: Harness;
let c: RawH2Client;
/** The authorization values each call showed the authorizer. */
const seen: (string | Buffer)[][] = [];

beforeEach(async () => {
  const real = new ConfigAccessPolicy([{ name: "reader", apiKeySha256: hashApiKey(KEY), read: [APP], refresh: [], sign: [] }]);
  const recording: AccessPolicy = {
    authenticate: (call) => {
      seen.push(call.metadata.get("authorization"));
      return real.authenticate(call);
    },
    authorize: (principal, id, permission) => real.authorize(principal, id, permission),
  };
  h = await Harness.start({ accessPolicy: recording });
  c = await RawH2Client.connect(h.port);
});
afterEach(async () => {
  seen.length = 0;
  c.destroy();
  await h.stop();
});

/** GetToken with these authorization fields, in this order; the token, or undefined when refused. */
async function getToken(...authorization: string[]): Promise<string | undefined> {
  const id = c.unary("/wxtoken.v1.TokenService/GetToken", authorization.map((v) => ["authorization", v]), Buffer.from(GetTokenRequest.encode({ kind: 0, agent: "", platformId: "", appId: APP }).finish()));
  await eventually(() => expect(c.ended(id)).toBe(true));
  const [message] = c.messages(id);
  return message && GetTokenResponse.decode(message).token?.accessToken;
}

describe("two authorization metadata entries", () => {
  it("are both on the wire (a bare Node HTTP/2 server's raw headers show them)", async () => {
    const bare = createServer();
    const raw = new Promise<string[]>((resolve) =>
      bare.on("stream", (stream: ServerHttp2Stream, _headers: IncomingHttpHeaders, _flags: number, rawHeaders: string[]) => {
        resolve(rawHeaders);
        stream.respond({ ":status": 200 });
        stream.end();
      }),
    );
    await new Promise<void>((resolve) => bare.listen(0, "127.0.0.1", resolve));
    const client = await RawH2Client.connect((bare.address() as AddressInfo).port);
    try {
      client.unary("/wxtoken.v1.TokenService/GetToken", [["authorization", "Bearer one"], ["authorization", "Bearer two"]], Buffer.alloc(0));
      expect((await raw).filter((_v, i, all) => i % 2 === 1 && all[i - 1] === "authorization")).toEqual(["Bearer one", "Bearer two"]);
    } finally {
      client.destroy();
      bare.close();
    }
  });

  it("reach the server as the first one alone", async () => {
    expect(await getToken(`Bearer ${KEY}`, `Bearer ${OTHER}`)).toBeDefined();
    expect(await getToken(`Bearer ${OTHER}`, `Bearer ${KEY}`)).toBeUndefined();
    expect(await getToken(`Bearer ${KEY}`, "not even a bearer")).toBeDefined();
    expect(seen).toEqual([[`Bearer ${KEY}`], [`Bearer ${OTHER}`], [`Bearer ${KEY}`]]);
    // The refusal was about the first key, which is unknown.
    expect(h.logs.text()).toMatch(/"details":"unknown API key"/);
  });
});

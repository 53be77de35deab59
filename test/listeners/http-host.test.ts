/**
 * DNS rebinding: a page on evil.example that makes its name resolve to
 * 127.0.0.1 reads, as same-origin, what the loopback listener answers, but its
 * requests say `Host: evil.example`. Real HTTP requests with forged Host
 * headers against the real server: the HTTP API and the metrics port answer
 * loopback names, IP addresses and their allowedHosts only (421 otherwise,
 * counted and logged without a line per request); with client
 * authentication and no allowedHosts, any Host (a rebinding page has no key).
 */
import { request as httpRequest } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { generateApiKey, hashApiKey } from "../../src/auth/api-key.js";
import { parseConfig } from "../../src/config/load.js";
import { APP, Harness, SECRETS, type HarnessOptions } from "../support/harness.js";

let h: Harness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

async function start(opts: HarnessOptions = {}): Promise<Harness> {
  h = await Harness.start({
    apps: [{ appId: APP, secretEnv: `SECRET_${APP}` }],
    ...opts,
    config: { http: { listen: "127.0.0.1:0" }, metrics: { listen: "127.0.0.1:0" }, ...opts.config },
  });
  return h;
}

interface Answer {
  status: number;
  text: string;
  json: () => Record<string, any>;
}

/** A GET to 127.0.0.1:port whose Host header says `host` (node:http sends it as given). */
function get(port: number, path: string, host: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: "127.0.0.1", port, path, headers: { host, ...headers }, agent: false }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (text += d));
      res.on("end", () => resolve({ status: res.statusCode!, text, json: () => JSON.parse(text) as Record<string, any> }));
    });
    req.on("error", reject);
    req.end();
  });
}

const TOKEN = `/v1/apps/${APP}/token`;
const FORGED = ["evil.example", "evil.example:8080", "localhost.evil.example", "127.0.0.1.nip.io", "wxtoken.internal", "[::1", "127.0.0.1:80:80", "evil.example."];
const LOOPBACK_OR_IP = ["127.0.0.1", "localhost", "LOCALHOST.", "[::1]", "127.9.8.7", "10.1.2.3", "[2001:db8::1]"];

describe("the HTTP API's Host check (no auth, loopback: the default)", () => {
  it("answers loopback names and IP addresses, with or without a port", async () => {
    const h = await start();
    const port = h.server.httpPort!;
    for (const host of LOOPBACK_OR_IP) {
      for (const withPort of [host, `${host}:${port}`]) expect((await get(port, TOKEN, withPort)).status, withPort).toBe(200);
    }
  });

  it("refuses any other Host with 421 and a JSON error saying why, before routing (an event stream included), counted and logged once", async () => {
    const h = await start();
    const port = h.server.httpPort!;
    const token = (await h.getToken(APP)).token!.accessToken;
    for (const host of FORGED) {
      const res = await get(port, TOKEN, host);
      expect(res.status, host).toBe(421);
      expect(res.json()).toMatchObject({
        code: 7,
        message: expect.stringMatching(/^Host ".*" is not served here: only loopback names, IP addresses and the names in http\.allowedHosts are/),
        details: [{ reason: "HOST_NOT_ALLOWED", domain: "wxtoken" }],
      });
      expect(res.text).not.toContain(token);
    }
    const watch = await get(port, `${TOKEN}:watch`, "evil.example", { accept: "text/event-stream" });
    expect(watch.status).toBe(421);
    const unknownRoute = await get(port, "/nowhere", "evil.example");
    expect(unknownRoute.status).toBe(421);
    const refused = FORGED.length + 2;

    const metrics = await get(h.server.metricsPort!, "/metrics", "127.0.0.1");
    expect(metrics.text).toContain(`wxtoken_http_host_refused_total{listener="http"} ${refused}`);
    expect(metrics.text).toContain(`wxtoken_rpc_total{transport="http",method="other",code="PERMISSION_DENIED"} ${refused}`);
    // The first refusal in full, the rest in one summary line per 10 s.
    const lines = () => h.logs.lines.filter((l) => l.includes('"listener":"http"')).map((l) => JSON.parse(l) as Record<string, any>);
    expect(lines()).toEqual([expect.objectContaining({ msg: "http request refused: Host not allowed (http.allowedHosts)", host: "evil.example", level: 40 })]);
    await h.clock.advance(10_000);
    expect(lines()).toHaveLength(2);
    expect(lines()[1]).toMatchObject({ refused: refused - 1, reasons: { host_not_allowed: refused - 1 }, remotes: ["127.0.0.1"] });
  });

  it("answers the names of http.allowedHosts (exact, and *.domain for the names under it)", async () => {
    const h = await start({ config: { http: { listen: "127.0.0.1:0", allowedHosts: ["wxtoken.internal", "*.svc.cluster.local"] } } });
    const port = h.server.httpPort!;
    for (const host of ["wxtoken.internal", "WXTOKEN.internal:8080", "wxtoken.ns.svc.cluster.local", "127.0.0.1", "localhost"]) {
      expect((await get(port, TOKEN, host)).status, host).toBe(200);
    }
    for (const host of ["evil.example", "svc.cluster.local", "wxtoken.internal.evil.example", "xsvc.cluster.local"]) {
      expect((await get(port, TOKEN, host)).status, host).toBe(421);
    }
  });
});

describe("the HTTP API's Host check with client authentication", () => {
  const key = generateApiKey();
  const auth = { clients: [{ name: "svc", apiKeySha256: hashApiKey(key), read: [APP] }] };
  const bearer = { authorization: `Bearer ${key}` };

  it("answers any Host when every caller must authenticate and no allowedHosts are set (a rebinding page has no key)", async () => {
    const h = await start({ config: { auth } });
    const port = h.server.httpPort!;
    expect((await get(port, TOKEN, "wxtoken.example.com", bearer)).status).toBe(200);
    expect((await get(port, TOKEN, "evil.example")).status).toBe(401);
  });

  it("checks the Host with auth too once allowedHosts are set", async () => {
    const h = await start({ config: { auth, http: { listen: "127.0.0.1:0", allowedHosts: ["wxtoken.example.com"] } } });
    const port = h.server.httpPort!;
    expect((await get(port, TOKEN, "wxtoken.example.com", bearer)).status).toBe(200);
    expect((await get(port, TOKEN, "evil.example", bearer)).status).toBe(421);
  });

  it("checks the Host again from the moment a reload removes auth (loopback)", async () => {
    const h = await start({ config: { auth } });
    const port = h.server.httpPort!;
    expect((await get(port, TOKEN, "evil.example", bearer)).status).toBe(200);
    const open = parseConfig(
      { listen: "127.0.0.1:0", store: { type: "memory" }, http: { listen: "127.0.0.1:0" }, metrics: { listen: "127.0.0.1:0" }, apps: [{ appId: APP, secretEnv: "S" }] },
      { env: { S: SECRETS[APP]! } },
    );
    h.server.reload(open);
    expect((await get(port, TOKEN, "evil.example")).status).toBe(421);
    expect((await get(port, TOKEN, "127.0.0.1")).status).toBe(200);
  });
});

describe("the metrics port's Host check", () => {
  it("answers loopback names, IP addresses and metrics.allowedHosts, and refuses any other Host with 421", async () => {
    const h = await start({ config: { metrics: { listen: "127.0.0.1:0", allowedHosts: ["wxtoken-metrics.internal"] } } });
    const port = h.server.metricsPort!;
    for (const host of ["127.0.0.1", `localhost:${port}`, "[::1]", "wxtoken-metrics.internal:9464"]) {
      const res = await get(port, "/metrics", host);
      expect(res.status, host).toBe(200);
      expect(res.text).toContain("wxtoken_upstream_calls_total");
    }
    for (const host of ["evil.example", "metrics.evil.example"]) {
      const res = await get(port, "/metrics", host);
      expect(res.status, host).toBe(421);
      expect(res.text).toMatch(/^Host ".*" is not served here: only loopback names, IP addresses and the names in metrics\.allowedHosts are/);
      expect(res.text).not.toContain(APP);
    }
    expect((await get(port, "/metrics", "127.0.0.1")).text).toContain(`wxtoken_http_host_refused_total{listener="metrics"} 2`);
    expect(h.logs.lines.filter((l) => l.includes("metrics request refused"))).toHaveLength(1);
  });

  it("refuses an allowedHosts entry that is not a host name", () => {
    for (const bad of ["evil.example:8080", "http://x", "a b", "*evil", ""]) {
      expect(() => parseConfig({ apps: [{ appId: APP, secret: "s" }], http: { allowedHosts: [bad] } }), bad).toThrow(/config error at http\.allowedHosts\[0\]: must be a host name without a port/);
      expect(() => parseConfig({ apps: [{ appId: APP, secret: "s" }], metrics: { allowedHosts: [bad] } }), bad).toThrow(/config error at metrics\.allowedHosts\[0\]/);
    }
  });
});

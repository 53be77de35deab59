import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfigFile, parseConfig } from "../../src/config/load.js";
import { connectionOptions } from "../../src/store/redis-connection.js";
import { WeChatClient } from "../../src/upstream/wechat-client.js";
import { tempDir } from "../support/harness.js";

const env = { WX_SECRET: "env-secret-value" };

function errorOf(raw: unknown, e: NodeJS.ProcessEnv = env): string {
  try {
    parseConfig(raw, { env: e });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error("expected a ConfigError");
}

describe("config", () => {
  it("fills in documented defaults", () => {
    const { config, apps } = parseConfig({ apps: [{ appId: "wx1", secretEnv: "WX_SECRET" }] }, { env });
    expect(config.listen).toBe("127.0.0.1:50051");
    expect(config.upstream.baseUrl).toBe("https://api.weixin.qq.com");
    expect(config.store).toEqual({ type: "sqlite", path: ".wxtoken/wxtoken.db" });
    expect(config.refresh.marginSeconds).toBe(300);
    expect(apps[0]).toMatchObject({ type: "official", endpoint: "token", tickets: [] });
    expect(apps[0]?.secret.reveal()).toBe("env-secret-value");
  });

  it("reads a secret from a file, relative to the config file", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "secret.txt"), "file-secret\n");
    writeFileSync(join(dir, "wxtoken.json"), JSON.stringify({ apps: [{ appId: "wx1", secretFile: "secret.txt" }] }));
    const { apps } = loadConfigFile(join(dir, "wxtoken.json"), {});
    expect(apps[0]?.secret.reveal()).toBe("file-secret");
  });

  it("accepts a literal secret but warns about it", () => {
    const { warnings, apps } = parseConfig({ apps: [{ appId: "wx1", secret: "literal" }] }, { env });
    expect(warnings.join()).toMatch(/apps\[0\]\.secret/);
    expect(apps[0]?.secret.reveal()).toBe("literal");
  });

  it("never prints a secret", () => {
    const { apps } = parseConfig({ apps: [{ appId: "wx1", secret: "literal-secret" }] }, { env });
    const s = apps[0]!.secret;
    expect(String(s)).toBe("***");
    expect(JSON.stringify(apps)).not.toContain("literal-secret");
    expect(inspect(apps, { depth: 5 })).not.toContain("literal-secret");
  });

  it.each([
    [{ apps: [{ appId: "wx1", secretEnv: "WX_SECRET" }], lisen: "x" }, /lisen/],
    [{ apps: [{ appId: "wx1", secretEnv: "WX_SECRET", extra: 1 }] }, /apps\[0\].*extra/],
    [{ apps: [] }, /at apps: configure at least one app/],
    [{ apps: [{ appId: "wx1" }] }, /apps\[0\].*exactly one of secretEnv, secretFile or secret/],
    [{ apps: [{ appId: "wx1", secretEnv: "WX_SECRET", secret: "x" }] }, /apps\[0\].*exactly one/],
    [{ apps: [{ appId: "wx 1", secretEnv: "WX_SECRET" }] }, /apps\[0\]\.appId/],
    [{ apps: [{ appId: "wx1", secretEnv: "NOPE" }] }, /apps\[0\]\.secretEnv: environment variable NOPE is not set/],
    [{ apps: [{ appId: "wx1", secretFile: "/nonexistent/secret" }] }, /apps\[0\]\.secretFile: cannot read/],
    [{ apps: [{ appId: "wx1", secretEnv: "WX_SECRET" }, { appId: "wx1", secretEnv: "WX_SECRET" }] }, /apps\[1\]\.appId: duplicate/],
    [{ apps: [{ appId: "wx1", secretEnv: "WX_SECRET", endpoint: "stable" }] }, /apps\[0\]\.endpoint/],
    [{ apps: [{ appId: "wx1", secretEnv: "WX_SECRET" }], store: { type: "mysql" } }, /store/],
    [{ apps: [{ appId: "wx1", secretEnv: "WX_SECRET" }], refresh: { marginSeconds: -1 } }, /refresh\.marginSeconds/],
    [{ apps: [{ appId: "wx1", secretEnv: "WX_SECRET" }], upstream: { baseUrl: "not a url" } }, /upstream\.baseUrl/],
  ])("rejects %j naming the bad key", (raw, pattern) => {
    expect(errorOf(raw)).toMatch(pattern);
  });

  const withApp = (extra: object) => ({ apps: [{ appId: "wx1", secretEnv: "WX_SECRET" }], ...extra });

  it.each([
    ["ftp://api.weixin.qq.com", /upstream\.baseUrl: must be an http:\/\/ or https:\/\/ URL, not ftp:/],
    ["file:///etc/passwd", /upstream\.baseUrl: .*not file:/],
    ["api.weixin.qq.com", /upstream\.baseUrl: must be an absolute/],
    ["https://api.weixin.qq.com/?x=1", /upstream\.baseUrl: must not carry a query/],
    ["https://api.weixin.qq.com/#top", /upstream\.baseUrl: must not carry a fragment/],
    ["https://user:pw@proxy.internal", /upstream\.baseUrl: must not carry credentials/],
  ])("rejects upstream.baseUrl %s (the upstream client could not use it)", (baseUrl, pattern) => {
    const message = errorOf(withApp({ upstream: { baseUrl } }));
    expect(message).toMatch(pattern);
    // A URL may hold a password: it is not echoed.
    expect(message).not.toContain("pw@");
  });

  it.each(["https://api.weixin.qq.com", "http://127.0.0.1:8080", "https://proxy.internal/wechat/"])(
    "accepts upstream.baseUrl %s, and the upstream client accepts it too",
    async (baseUrl) => {
      const { config } = parseConfig(withApp({ upstream: { baseUrl } }), { env });
      expect(config.upstream.baseUrl).toBe(baseUrl);
      await new WeChatClient({ baseUrl: config.upstream.baseUrl }).close();
    },
  );

  it.each([
    ["listen", "localhost", /at listen: must be host:port/],
    ["listen", "127.0.0.1:65536", /at listen: port 65536 is over 65535/],
    ["listen", ":50051", /at listen: needs a host/],
    ["listen", "http://127.0.0.1:50051", /at listen: /],
    ["listen", "127.0.0.1 :50051", /at listen: .*not a host name/],
    ["listen", "[10.0.0.1]:50051", /at listen: \[10\.0\.0\.1\] is not an IPv6 address/],
    ["listen", "::1:50051", /at listen: must be host:port/],
    ["listen", "ipv4:localhost:50051", /at listen: ipv4: needs an IPv4 address/],
    ["listen", "unix:", /at listen: unix: needs a socket path/],
    ["metrics.listen", "9464", /at metrics\.listen: must be host:port/],
    ["metrics.listen", "127.0.0.1:99999", /at metrics\.listen: port 99999/],
    ["metrics.listen", "127.0.0.1/metrics:9464", /at metrics\.listen: .*not a host name/],
  ])("rejects %s %j naming the key", (key, address, pattern) => {
    const raw = key === "listen" ? withApp({ listen: address }) : withApp({ metrics: { listen: address } });
    expect(errorOf(raw)).toMatch(pattern);
  });

  it.each(["127.0.0.1:0", "localhost:50051", "[::1]:50051", "dns:127.0.0.1:50051", "dns:///localhost:1", "ipv4:127.0.0.1:50051", "ipv6:[::1]:50051", "unix:/tmp/wxtoken.sock"])(
    "accepts listen %s",
    (listen) => {
      expect(parseConfig(withApp({ listen }), { env }).config.listen).toBe(listen);
    },
  );

  it.each([":9464", "0.0.0.0:9464", "[::]:0", "metrics.internal:9464"])("accepts metrics.listen %s", (listen) => {
    expect(parseConfig(withApp({ metrics: { listen } }), { env }).config.metrics?.listen).toBe(listen);
  });

  it("does not echo a literal secret in an error", () => {
    const message = errorOf({ apps: [{ appId: "wx 1", secret: "do-not-print-me" }] });
    expect(message).not.toContain("do-not-print-me");
  });

  it("names an unknown key once", () => {
    expect(errorOf({ appz: [], apps: [{ appId: "wx1", secretEnv: "WX_SECRET" }] })).toBe('config error at (root): Unrecognized key: "appz"');
    expect(errorOf({ apps: [{ appId: "wx1", secretEnv: "WX_SECRET", tikets: [], agnet: "1" }] })).toBe('config error at apps[0]: Unrecognized keys: "tikets", "agnet"');
  });

  it("names the file when it is not JSON", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "bad.json"), "{");
    expect(() => loadConfigFile(join(dir, "bad.json"))).toThrow(/bad\.json is not valid JSON/);
  });
});

describe("config: the redis store", () => {
  const apps = [{ appId: "wx1", secretEnv: "WX_SECRET" }];

  it("fills in documented defaults and takes the password from an environment variable", () => {
    const loaded = parseConfig({ apps, store: { type: "redis", passwordEnv: "REDIS_PW" } }, { env: { ...env, REDIS_PW: "redis-pw-0001" } });
    expect(loaded.config.store).toEqual({ type: "redis", passwordEnv: "REDIS_PW", keyPrefix: "wxtoken:", lockLeaseSeconds: 30, replicaLeaseSeconds: 15 });
    expect(loaded.redisPassword?.reveal()).toBe("redis-pw-0001");
    expect(inspect(loaded)).not.toContain("redis-pw-0001");
    // No url and no sentinels: the local Redis.
    expect(connectionOptions({})).toMatchObject({ url: "redis://127.0.0.1:6379", where: "redis://127.0.0.1:6379" });
  });

  it("takes sentinels, a master name, ACL users and both passwords from environment variables", () => {
    const store = {
      type: "redis",
      sentinels: ["10.0.0.1:26379", "[fd00::2]:26379"],
      masterName: "tokens",
      db: 3,
      username: "wxtoken",
      passwordEnv: "REDIS_PW",
      sentinelUsername: "watcher",
      sentinelPasswordEnv: "SENTINEL_PW",
    };
    const loaded = parseConfig({ apps, store }, { env: { ...env, REDIS_PW: "redis-pw-0002", SENTINEL_PW: "sentinel-pw-0003" } });
    expect(loaded.redisSentinelPassword?.reveal()).toBe("sentinel-pw-0003");
    expect(inspect(loaded)).not.toMatch(/redis-pw-0002|sentinel-pw-0003/);
    const { url, options, where } = connectionOptions({ ...store, password: "redis-pw-0002", sentinelPassword: "sentinel-pw-0003" });
    expect(url).toBeUndefined();
    expect(options).toMatchObject({
      sentinels: [{ host: "10.0.0.1", port: 26379 }, { host: "fd00::2", port: 26379 }],
      name: "tokens",
      db: 3,
      username: "wxtoken",
      password: "redis-pw-0002",
      sentinelUsername: "watcher",
      sentinelPassword: "sentinel-pw-0003",
    });
    expect(where).toBe('sentinel master "tokens" via 10.0.0.1:26379,[fd00::2]:26379');
  });

  it("turns TLS on with sentinels, with a CA file relative to the config file", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "redis-ca.pem"), "-----BEGIN CERTIFICATE-----\n");
    writeFileSync(join(dir, "wxtoken.json"), JSON.stringify({ apps, store: { type: "redis", sentinels: ["s1:26379"], masterName: "m", tls: { caFile: "redis-ca.pem", serverName: "redis.internal" } } }));
    const loaded = loadConfigFile(join(dir, "wxtoken.json"), env);
    expect(loaded.redisCaFile).toBe(join(dir, "redis-ca.pem"));
    const { options } = connectionOptions({ sentinels: ["s1:26379"], masterName: "m", tls: { caFile: loaded.redisCaFile, serverName: "redis.internal" } });
    expect(options).toMatchObject({ enableTLSForSentinelMode: true, tls: { servername: "redis.internal" }, sentinelTLS: { servername: "redis.internal" } });
    expect(String(options.tls?.ca)).toContain("BEGIN CERTIFICATE");
    expect(() => connectionOptions({ url: "rediss://r:6380", tls: { caFile: join(dir, "missing.pem") } })).toThrow(/store\.tls\.caFile: cannot read .*missing\.pem: ENOENT/);
  });

  it.each([
    [{ type: "redis", url: "http://127.0.0.1:6379" }, /store\.url: must be a redis:\/\/ or rediss:\/\/ URL/],
    [{ type: "redis", url: "redis://127.0.0.1:6379/x" }, /store\.url: the path may only be a database number/],
    [{ type: "redis", lockLeaseSeconds: 0 }, /store\.lockLeaseSeconds/],
    [{ type: "redis", keyPrefix: "" }, /store\.keyPrefix/],
    [{ type: "redis", host: "x" }, /store: .*"host"/],
    [{ type: "redis", passwordEnv: "NOPE" }, /store\.passwordEnv: environment variable NOPE is not set/],
    [{ type: "redis", url: "redis://r:6379", sentinels: ["s:26379"], masterName: "m" }, /store\.sentinels: give either url or sentinels, not both/],
    [{ type: "redis", sentinels: ["s:26379"] }, /store\.masterName: is needed with sentinels/],
    [{ type: "redis", sentinels: [] }, /store\.sentinels/],
    [{ type: "redis", sentinels: ["s"], masterName: "m" }, /store\.sentinels\[0\]: must be host:port/],
    [{ type: "redis", masterName: "m" }, /store\.masterName: only applies with sentinels/],
    [{ type: "redis", db: 2 }, /store\.db: only applies with sentinels/],
    [{ type: "redis", sentinelPasswordEnv: "X" }, /store\.sentinelPasswordEnv: only applies with sentinels/],
    [{ type: "redis", sentinels: ["s:26379"], masterName: "m", sentinelPasswordEnv: "NOPE" }, /store\.sentinelPasswordEnv: environment variable NOPE is not set/],
    [{ type: "redis", url: "redis://r:6379", tls: {} }, /store\.tls: needs a rediss:\/\/ url/],
    [{ type: "redis", url: "rediss://r:6379", tls: { ca: "x" } }, /store\.tls: .*"ca"/],
    [{ type: "redis", sentinels: ["s:26379"], masterName: "m", password: "x" }, /store: .*"password"/],
  ])("rejects %j naming the key", (store, message) => {
    expect(errorOf({ apps, store })).toMatch(message);
  });

  it("does not echo a password in the URL, and warns about it", () => {
    const secretUrl = "ftp://user:hunter2-pw@127.0.0.1:6379";
    expect(errorOf({ apps, store: { type: "redis", url: secretUrl } })).not.toContain("hunter2-pw");
    const loaded = parseConfig({ apps, store: { type: "redis", url: "rediss://user:hunter2-pw@redis.internal:6380/2" } }, { env });
    expect(loaded.warnings).toContain("store.url holds the Redis password in the config file itself; prefer store.passwordEnv");
  });
});

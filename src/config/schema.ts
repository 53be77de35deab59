/**
 * The config file schema (zod): every key, its default and its meaning. The
 * reference in docs/configuration.md is generated from this file and its doc
 * comments (npm run docs:config). Unknown keys are errors,
 * so a typo never silently falls back to a default.
 */
import { isIPv4, isIPv6 } from "node:net";
import { CREDENTIAL_KIND_TABLE, kindOf, type CredentialKindShortName } from "@wxtoken/client";
import { z } from "zod";
import { splitHostPort } from "../host-port.js";
import { authSchema, checkSecurity, tlsSchema } from "../auth/schema.js";
import { watchesSchema } from "./watches.js";
import { AGENT_PATTERN, AGENT_RULE, APP_ID_PATTERN, APP_ID_RULE } from "../core/credential-id.js";

/**
 * The URL, if it parses and has one of the protocols; else why not. The value
 * is never echoed: it may hold a password.
 */
function urlWith(value: string, protocols: string[], expected: string): URL | string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `must be an absolute URL: ${expected}`;
  }
  return protocols.includes(url.protocol) ? url : `must be ${expected}, not ${url.protocol}`;
}

/**
 * What WeChatClient can use: http(s), no query, fragment or credentials (a
 * path prefix is fine, for a proxy). Checked here so a bad value is a config
 * error naming the key, not a TypeError at startup.
 */
function baseUrlProblem(value: string): string | undefined {
  const url = urlWith(value, ["http:", "https:"], "an http:// or https:// URL");
  if (typeof url === "string") return url;
  if (url.username || url.password) return "must not carry credentials (user:password@)";
  if (url.search) return "must not carry a query (?...)";
  if (url.hash) return "must not carry a fragment (#...)";
  return undefined;
}

/** What ioredis accepts. */
function redisUrlProblem(value: string): string | undefined {
  const url = urlWith(value, ["redis:", "rediss:"], "a redis:// or rediss:// URL");
  if (typeof url === "string") return url;
  if (!url.hostname) return "needs a host";
  if (url.pathname !== "" && url.pathname !== "/" && !/^\/\d{1,2}$/.test(url.pathname)) return "the path may only be a database number (/0 ... /15)";
  return undefined;
}

const HOST_NAME = /^[A-Za-z0-9._-]+$/;

/** "host:port" or "[v6]:port" with a port of 0-65535; an empty host only where allowed (all interfaces). */
function hostPortProblem(address: string, emptyHost: boolean): string | undefined {
  const parts = splitHostPort(address);
  if (!parts) return "must be host:port or [ipv6]:port";
  const { host, port, bracketed } = parts;
  if (port > 65535) return `port ${port} is over 65535`;
  if (bracketed) return isIPv6(host) ? undefined : `[${host}] is not an IPv6 address`;
  if (host === "") return emptyHost ? undefined : "needs a host before the port";
  return HOST_NAME.test(host) ? undefined : `"${host}" is not a host name or IP address`;
}

/** The address forms grpc-js binds: host:port, [v6]:port, dns:, ipv4:, ipv6: and unix:. */
function grpcAddressProblem(address: string): string | undefined {
  if (address.startsWith("unix:")) return address.length > "unix:".length ? undefined : "unix: needs a socket path";
  const [, scheme = "", rest = ""] = /^(dns:(?:\/\/\/)?|ipv4:|ipv6:)?(.*)$/.exec(address) ?? [];
  const problem = hostPortProblem(rest, false);
  if (problem) return problem;
  const { host, bracketed } = splitHostPort(rest)!;
  if (scheme === "ipv4:" && !isIPv4(host)) return "ipv4: needs an IPv4 address";
  if (scheme === "ipv6:" && !bracketed) return "ipv6: needs [address]:port";
  return undefined;
}

/** A string checked by `problem`; the issue lands on the key itself, so the message names it. */
const checked = (problem: (value: string) => string | undefined, expected: string) =>
  z.string().superRefine((value, ctx) => {
    const why = problem(value);
    if (why !== undefined) ctx.addIssue({ code: "custom", message: `${why}; expected ${expected}` });
  });

const GRPC_ADDRESS = "host:port, [ipv6]:port, dns:host:port, ipv4:a.b.c.d:port, ipv6:[addr]:port or unix:/path";

/** Where an app's secret comes from: exactly one of these. */
const secretSource = {
  /** Name of the environment variable that holds the secret (preferred). */
  secretEnv: z.string().min(1).optional(),
  /** Path of a file that holds the secret (e.g. a mounted Kubernetes secret), relative to the config file. */
  secretFile: z.string().min(1).optional(),
  /** The secret itself. Works, but is warned about: config files get copied and committed. */
  secret: z.string().min(1).optional(),
};
const oneSecret = {
  check: (a: { secretEnv?: string; secretFile?: string; secret?: string }) =>
    [a.secretEnv, a.secretFile, a.secret].filter((s) => s !== undefined).length === 1,
  message: "give exactly one of secretEnv, secretFile or secret",
};

/** A page origin SignJsSdk may sign for: scheme://host[:port], nothing after it. */
function originProblem(value: string): string | undefined {
  const url = urlWith(value, ["http:", "https:"], "an http:// or https:// origin");
  if (typeof url === "string") return url;
  return url.origin === value ? undefined : `must be an origin only (scheme://host[:port]), e.g. ${url.origin}`;
}

/** JS-SDK signing (SignJsSdk) for the app. */
const jsSdk = z
  .strictObject({
    /** Origins whose pages may be signed, e.g. ["https://h5.example.com"]. Empty: any http(s) page. */
    allowedOrigins: z.array(checked(originProblem, "scheme://host[:port]")).default([]),
  })
  .prefault({});

const unique = <T>(values: T[]) => new Set(values).size === values.length;

/**
 * A list of ticket kinds, each in any spelling of kinds.ts ("jsapi",
 * "jsapi_ticket", "CREDENTIAL_KIND_JSAPI_TICKET"), held by its short name.
 */
function ticketList<const T extends CredentialKindShortName>(...shorts: T[]) {
  const spellings = CREDENTIAL_KIND_TABLE.filter((k) => (shorts as string[]).includes(k.short)).flatMap((k) => [k.short, k.name, k.enumName]);
  return z
    .array(z.enum(spellings as [string, ...string[]]))
    .default([])
    .transform((list) => list.map((s) => kindOf(s)!.short as T))
    .refine(unique, "lists a ticket twice");
}

/** An Official Account or Mini Program (the default type). */
const officialApp = z
  .strictObject({
    type: z.literal("official"),
    /** The WeChat appid. */
    appId: z.string().regex(APP_ID_PATTERN, `must be ${APP_ID_RULE}`),
    ...secretSource,
    /** "token" (GET /cgi-bin/token) or "stable_token" (POST /cgi-bin/stable_token). */
    endpoint: z.enum(["token", "stable_token"]).default("token"),
    /** JS-SDK tickets to hold: "jsapi" (wx.config), "wx_card" (card api_ticket), or their long or enum names ("jsapi_ticket"). None unless listed. */
    tickets: ticketList("jsapi", "wx_card"),
    jsSdk,
  })
  .refine(oneSecret.check, { message: oneSecret.message });

/** One secret of a WeCom (企业微信) corp: a self-built app (agent) or a built-in app. */
const wecomApp = z
  .strictObject({
    type: z.literal("wecom"),
    /** The corpid (企业ID). */
    corpId: z.string().regex(APP_ID_PATTERN, `must be ${APP_ID_RULE}`),
    /** The agentid of a self-built app ("1000002"), or a name for a built-in app's secret ("contacts", "externalcontact"). */
    agent: z.string().regex(AGENT_PATTERN, `must be ${AGENT_RULE}`),
    ...secretSource,
    /** Tickets to hold: "jsapi" (the corp ticket for wx.config; one entry per corp may list it), "agent_config" (wx.agentConfig; needs a numeric agent), or their long or enum names. */
    tickets: ticketList("jsapi", "agent_config"),
    jsSdk,
  })
  .refine(oneSecret.check, { message: oneSecret.message })
  .refine((a) => !a.tickets.includes("agent_config") || /^\d+$/.test(a.agent), {
    message: "agent_config needs a self-built app: agent must be its numeric agentid",
    path: ["tickets"],
  });

/** Entries without a type are Official Accounts / Mini Programs (configs written before WeCom support). */
const app = z.preprocess(
  (v) => (typeof v === "object" && v !== null && !Array.isArray(v) && !("type" in v) ? { ...v, type: "official" } : v),
  z.discriminatedUnion("type", [officialApp, wecomApp]),
);

const PUSH_PATH = /^\/[A-Za-z0-9._~\/-]{0,200}$/;

/** The keys a pushed-ticket platform's pushes are signed and encrypted with (Open Platform and WeCom suite alike). */
const pushKeySources = {
  /** Name of the environment variable that holds the message-verification Token (消息校验Token). Exactly one of messageTokenEnv (preferred), messageTokenFile, messageToken. */
  messageTokenEnv: z.string().min(1).optional(),
  /** Path of a file that holds the message-verification Token, relative to the config file. */
  messageTokenFile: z.string().min(1).optional(),
  /** The message-verification Token itself (warned about, like a literal secret). */
  messageToken: z.string().min(1).optional(),
  /** Name of the environment variable that holds the EncodingAESKey (消息加解密Key, 43 characters). Exactly one of encodingAesKeyEnv (preferred), encodingAesKeyFile, encodingAesKey. */
  encodingAesKeyEnv: z.string().min(1).optional(),
  /** Path of a file that holds the EncodingAESKey, relative to the config file. */
  encodingAesKeyFile: z.string().min(1).optional(),
  /** The EncodingAESKey itself (warned about, like a literal secret). */
  encodingAesKey: z.string().min(1).optional(),
};
const oneMessageToken = {
  check: (p: { messageTokenEnv?: string; messageTokenFile?: string; messageToken?: string }) =>
    [p.messageTokenEnv, p.messageTokenFile, p.messageToken].filter((s) => s !== undefined).length === 1,
  message: "give exactly one of messageTokenEnv, messageTokenFile or messageToken",
};
const oneAesKey = {
  check: (p: { encodingAesKeyEnv?: string; encodingAesKeyFile?: string; encodingAesKey?: string }) =>
    [p.encodingAesKeyEnv, p.encodingAesKeyFile, p.encodingAesKey].filter((s) => s !== undefined).length === 1,
  message: "give exactly one of encodingAesKeyEnv, encodingAesKeyFile or encodingAesKey",
};

/** The push receiver: its own HTTP listener, serving nothing else, shared by every Open Platform and WeCom suite. */
const receiver = z
  .strictObject({
    /** host:port, [ipv6]:port or :port (all interfaces). */
    listen: checked((a) => hostPortProblem(a, true), "host:port, [ipv6]:port or :port").default("127.0.0.1:8090"),
    /** Largest push body accepted (413 past it). */
    maxBodyBytes: z.number().int().positive().max(1_048_576).default(65_536),
    /**
     * A push whose timestamp is further than this from the server's clock, or whose CreateTime (a WeCom
     * suite's: TimeStamp) is further ahead, is refused (403), and replays within it are ignored; stored
     * push times further ahead are brought back to now at start.
     */
    maxClockSkewSeconds: z.number().positive().max(86_400).default(300),
  });

/** An Open Platform (第三方平台) whose component and authorizer tokens the server holds. */
const platform = z
  .strictObject({
    /** The platform's component appid (第三方平台 appid). */
    componentAppId: z.string().regex(APP_ID_PATTERN, `must be ${APP_ID_RULE}`),
    /** The component_appsecret: secretEnv (preferred), secretFile or secret, exactly one. */
    ...secretSource,
    ...pushKeySources,
    /** The path of the authorization event URL (授权事件接收URL) on the push receiver; default /wechat/open/<componentAppId>. */
    path: z.string().regex(PUSH_PATH, "must start with / and hold only A-Z a-z 0-9 . _ ~ / -").optional(),
    /** JS-SDK tickets to hold for every authorizer: "jsapi", "wx_card" (or their long or enum names). None unless listed. */
    authorizerTickets: ticketList("jsapi", "wx_card"),
    /** Least time between two requests for a ticket push (api_start_push_ticket), made when no valid ticket is held. */
    startPushMinIntervalSeconds: z.number().positive().default(300),
    /** Least time between two automatic re-reads of the authorizer list (at start with none stored, after a 61023). */
    syncMinIntervalSeconds: z.number().positive().default(600),
    /**
     * After an account's first 61023 (its refresh token refused: it may have
     * authorized again while the push was lost), the list is re-read this soon
     * after the previous read instead (the one made at start included).
     * Another 61023 of an account refused before (since its refresh token last
     * worked) keeps to syncMinIntervalSeconds.
     */
    refusedSyncMinIntervalSeconds: z.number().positive().default(60),
    /**
     * Upstream calls per second this platform's background work may make
     * (scheduled refreshes, first fetches after a restore, retries), across
     * all replicas. Refreshes are planned under it, spread over the safe part
     * of each token's life, so tokens obtained together never come due
     * together. A caller waiting for a token never waits for it. Enough for
     * N eager authorizers: about N / 6,000 (each refreshed about every 2 h).
     */
    maxCallsPerSecond: z.number().positive().max(1_000).default(20),
    /** Background upstream calls in flight at once (a restore of thousands of accounts). */
    maxConcurrentCalls: z.number().int().positive().max(1_000).default(8),
    /**
     * "eager": every authorizer's token (and tickets) is fetched and kept
     * fresh. "on_demand": fetched at the first GetToken (from the stored
     * refresh token), then refreshed while read within idleAfterSeconds, and
     * left to expire when idle (its refresh token stays): a platform whose
     * accounts are mostly idle spends upstream calls on the active ones only.
     */
    authorizerTokens: z.enum(["eager", "on_demand"]).default("eager"),
    /** On demand: an authorizer read within this long is kept refreshed. */
    idleAfterSeconds: z.number().positive().default(86_400),
  })
  .refine(oneSecret.check, { message: oneSecret.message })
  .refine(oneMessageToken.check, { message: oneMessageToken.message })
  .refine(oneAesKey.check, { message: oneAesKey.message });

/**
 * A WeCom service provider's app (企业微信第三方应用, a "suite"), or a 代开发
 * app template, installed by many corps: its suite_access_token (from the
 * suite_ticket WeCom pushes every 10 minutes, valid 30), each installed corp's
 * token and JS-SDK tickets (docs/wecom-providers.md).
 */
const wecomSuite = z
  .strictObject({
    /** The suite id (第三方应用 SuiteID, or a 代开发 template id starting with dk). */
    suiteId: z.string().regex(APP_ID_PATTERN, `must be ${APP_ID_RULE}`),
    /** The suite secret: secretEnv (preferred), secretFile or secret, exactly one. */
    ...secretSource,
    ...pushKeySources,
    /** The path of the app's 指令回调URL on the push receiver; default /wechat/wecom/<suiteId>. */
    path: z.string().regex(PUSH_PATH, "must start with / and hold only A-Z a-z 0-9 . _ ~ / -").optional(),
    /**
     * A 代开发 (custom-developed) app template: the permanent code is the installed app's secret, and
     * each corp's token comes from /cgi-bin/gettoken with it. Default: true when suiteId starts with "dk".
     */
    customApp: z.boolean().optional(),
    /** JS-SDK tickets to hold for every installed corp: "jsapi" (wx.config), "agent_config" (wx.agentConfig), or their long or enum names. None unless listed. */
    corpTickets: ticketList("jsapi", "agent_config"),
    /** JS-SDK signing (SignJsSdk) for the installed corps' pages. */
    jsSdk,
    /** Upstream calls per second this suite's background work may make, across all replicas (as openPlatform.platforms[].maxCallsPerSecond). */
    maxCallsPerSecond: z.number().positive().max(1_000).default(20),
    /** Background upstream calls in flight at once. */
    maxConcurrentCalls: z.number().int().positive().max(1_000).default(8),
    /** "eager": every installed corp's token (and tickets) is kept fresh; "on_demand": fetched at the first read, refreshed while read within idleAfterSeconds. */
    corpTokens: z.enum(["eager", "on_demand"]).default("eager"),
    /** On demand: a corp read within this long is kept refreshed. */
    idleAfterSeconds: z.number().positive().default(86_400),
  })
  .refine(oneSecret.check, { message: oneSecret.message })
  .refine(oneMessageToken.check, { message: oneMessageToken.message })
  .refine(oneAesKey.check, { message: oneAesKey.message });

/**
 * The provider's own credential (服务商凭证): its corpid (WeCom's URL check of
 * a suite's 指令回调URL may name it) and, for provider_access_token, its
 * provider_secret.
 */
const wecomProvider = z
  .strictObject({
    /** The provider's own corpid (服务商的corpid). */
    corpId: z.string().regex(APP_ID_PATTERN, `must be ${APP_ID_RULE}`),
    /** The provider_secret (服务商secret): secretEnv (preferred), secretFile or secret, at most one; none: no provider_access_token. */
    ...secretSource,
  })
  .refine((p) => [p.secretEnv, p.secretFile, p.secret].filter((s) => s !== undefined).length <= 1, { message: "give at most one of secretEnv, secretFile or secret" });

const sqliteStore = z.strictObject({
  type: z.literal("sqlite"),
  /**
   * Database path (relative to the config file). Mode 0600 in a 0700
   * directory; SQLite keeps `<path>-wal` and `<path>-shm` beside it while
   * the server runs. An Open Platform change is fsynced before it counts as stored.
   */
  path: z.string().min(1).default(".wxtoken/wxtoken.db"),
  /**
   * The file store's JSON snapshot to import when the database is first
   * made (relative to the config file); default: tokens.json beside the
   * database. Once imported it is renamed `<name>.migrated-<ms>`, not deleted.
   */
  importFrom: z.string().min(1).optional(),
});

const fileStore = z.strictObject({
  type: z.literal("file"),
  /** Snapshot path (relative to the config file). Written atomically with mode 0600 (through <path>.<pid>.tmp; such files left by a killed write are removed at start). */
  path: z.string().min(1).default(".wxtoken/tokens.json"),
});

const store = z.discriminatedUnion("type", [
  sqliteStore,
  fileStore,
  z.strictObject({ type: z.literal("memory") }),
  z
    .strictObject({
      /** Replicas sharing Redis: one refresh lock, one token and one quota count per app for the cluster. */
      type: z.literal("redis"),
      /** One Redis (or a proxy in front of several). Default redis://127.0.0.1:6379 unless sentinels are given. */
      url: checked(redisUrlProblem, "redis://host:port[/db] or rediss://host:port[/db]").optional(),
      /** Redis Sentinel instead of a url: the sentinels to ask for the current master. */
      sentinels: z.array(checked((a) => hostPortProblem(a, false), "host:port or [ipv6]:port")).min(1).optional(),
      /** With sentinels: the name they monitor the master under (`sentinel monitor NAME ...`). */
      masterName: z.string().min(1).optional(),
      /** With sentinels: the database number (with a url, its path). */
      db: z.number().int().min(0).max(99).optional(),
      /** ACL user (Redis 6+), rather than the default user. */
      username: z.string().min(1).optional(),
      /** Environment variable holding the Redis password (rather than a password in the URL). */
      passwordEnv: z.string().min(1).optional(),
      /** With sentinels: the ACL user and password the sentinels themselves require, if any. */
      sentinelUsername: z.string().min(1).optional(),
      sentinelPasswordEnv: z.string().min(1).optional(),
      /**
       * TLS to Redis. With a url, rediss:// turns it on and this adds a CA or
       * server name; with sentinels, its presence turns TLS on for the sentinels
       * and the master alike.
       */
      tls: z
        .strictObject({
          /** PEM file of the CA that signed Redis's certificate (relative to the config file); default: the system's CAs. */
          caFile: z.string().min(1).optional(),
          /** The name to check the certificate against, if not the host connected to. */
          serverName: z.string().min(1).optional(),
        })
        .optional(),
      /** Prefix of every key, so that several deployments can share a Redis. */
      keyPrefix: z.string().min(1).max(100).default("wxtoken:"),
      /** How long a refresh lock lives if its holder dies (at least the upstream timeout plus 7 s is used: one call, and a wait for a value's successor). */
      lockLeaseSeconds: z.number().positive().max(600).default(30),
      /**
       * How long a replica counts as live after its latest heartbeat (it beats
       * every third of this): a dead replica's credentials are refreshed by the
       * others within about this long. The replicas' clocks must agree within
       * two thirds of it.
       */
      replicaLeaseSeconds: z.number().min(1).max(600).default(15),
    })
    .superRefine((s, ctx) => {
      const issue = (key: string, message: string) => ctx.addIssue({ code: "custom", path: [key], message });
      if (s.url !== undefined && s.sentinels !== undefined) issue("sentinels", "give either url or sentinels, not both");
      if (s.sentinels !== undefined && s.masterName === undefined) issue("masterName", "is needed with sentinels: the name they monitor the master under");
      if (s.sentinels === undefined) {
        for (const key of ["masterName", "db", "sentinelUsername", "sentinelPasswordEnv"] as const) {
          if (s[key] !== undefined) issue(key, "only applies with sentinels");
        }
      }
      if (s.tls !== undefined && s.url !== undefined && !s.url.startsWith("rediss:")) issue("tls", "needs a rediss:// url");
    }),
]);

/**
 * Connection limits of each listener, so that no flood of connections (idle or
 * not, with or without a key) takes the file descriptors the other listeners
 * and the store need (docs/security.md#connection-limits).
 */
const connections = z.strictObject({
  /**
   * File descriptors kept free of every listener: for the store, Redis, upstream
   * calls and logs. The caps of the listeners in use must fit in the process's
   * limit (ulimit -n) less this; at start, caps that do not are scaled down to
   * fit, with a warning.
   */
  reservedDescriptors: z.number().int().nonnegative().default(1_000),
  /** The gRPC port (`listen`). */
  grpc: z
    .strictObject({
      /** Open connections at most. When full, the connection idle the longest (no call in progress) is closed to admit a new one; when all are busy, new ones are refused. A listen address that resolves to several addresses shares it between them. */
      maxConnections: z.number().int().min(2).max(1_000_000).default(10_000),
      /** A connection that has not started a call this long after it opened (TLS handshake included) is closed. */
      firstCallSeconds: z.number().positive().max(300).default(10),
      /** A connection with no call in progress for this long is closed (GOAWAY; the client reconnects at its next call). A watch stream is a call in progress. */
      idleSeconds: z.number().positive().max(86_400).default(300),
    })
    .prefault({}),
  /** The HTTP API (`http.listen`), when configured. */
  http: z
    .strictObject({
      /** Open connections at most. When full, the connection idle the longest (no request in progress) is closed to admit a new one; when all are busy (event streams included), new ones are refused. */
      maxConnections: z.number().int().min(2).max(1_000_000).default(5_000),
      /** A request's headers (and a TLS handshake) must arrive within this, or the connection is closed. The whole request (body included) must arrive within 30 s, or this if longer. */
      headersSeconds: z.number().positive().max(300).default(10),
      /** A keep-alive connection with no request in progress is closed after this. */
      idleSeconds: z.number().positive().max(3_600).default(5),
    })
    .prefault({}),
  /** The Open Platform push receiver (`openPlatform.receiver.listen`), when configured. */
  receiver: z
    .strictObject({
      /** Open connections at most; when full, as http.maxConnections. */
      maxConnections: z.number().int().min(2).max(1_000_000).default(500),
      /** A push's headers must arrive within this; the whole push (body included) within 10 s, or this if longer. */
      headersSeconds: z.number().positive().max(300).default(10),
      /** A keep-alive connection with no push in progress is closed after this. */
      idleSeconds: z.number().positive().max(3_600).default(5),
    })
    .prefault({}),
  /** The metrics port (`metrics.listen`), when configured. */
  metrics: z
    .strictObject({
      /** Open connections at most; when full, as http.maxConnections. */
      maxConnections: z.number().int().min(2).max(1_000_000).default(20),
      /** A scrape's headers must arrive within this; the whole request within 30 s, or this if longer. */
      headersSeconds: z.number().positive().max(300).default(10),
      /** A keep-alive connection between scrapes is closed after this. */
      idleSeconds: z.number().positive().max(3_600).default(5),
    })
    .prefault({}),
});

/** Names for a listener's Host check (src/listeners/host-check.ts): a name, "*.name" or "*"; no port. */
const ALLOWED_HOST = /^(\*|(\*\.)?[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*)$/;
const allowedHosts = z.array(
  z
    .string()
    .transform((h) => h.toLowerCase())
    .refine((h) => ALLOWED_HOST.test(h), 'must be a host name without a port, "*.domain" or "*"'),
);

export const configSchema = z.strictObject({
  /** The JSON Schema an editor checks this file against, e.g. "./node_modules/wxtoken/config.schema.json" (npm run schema:config makes it); the server ignores it. */
  $schema: z.string().optional(),
  /** host:port for gRPC. */
  listen: checked(grpcAddressProblem, GRPC_ADDRESS).default("127.0.0.1:50051"),
  upstream: z
    .strictObject({
      baseUrl: checked(baseUrlProblem, "e.g. https://api.weixin.qq.com").default("https://api.weixin.qq.com"),
      /** WeCom's API host (gettoken, tickets), separate from the Official Account one. */
      wecomBaseUrl: checked(baseUrlProblem, "e.g. https://qyapi.weixin.qq.com").default("https://qyapi.weixin.qq.com"),
      connectTimeoutMs: z.number().int().positive().default(5_000),
      timeoutMs: z.number().int().positive().default(10_000),
    })
    .prefault({}),
  store: store.prefault({ type: "sqlite" }),
  refresh: z
    .strictObject({
      /** Refresh this long before expiry (scaled down to fit a short-lived token's last quarter). */
      marginSeconds: z.number().positive().default(300),
      /** Up to this much earlier again, at random. */
      jitterSeconds: z.number().nonnegative().default(60),
      /** First retry after a transient upstream failure; doubles up to retryMaxSeconds. */
      retryBaseSeconds: z.number().positive().default(1),
      retryMaxSeconds: z.number().positive().default(60),
      /** Retry after an IP whitelist / IP approval error (40164, 895xx). */
      adminRetrySeconds: z.number().positive().default(300),
      /** Retry after a credential error (40013, 40125, 40243, ...). */
      permanentRetrySeconds: z.number().positive().default(1800),
    })
    .prefault({}),
  /** Our own limits on upstream calls, well inside WeChat's 2,000 a day (docs/operations.md, Quota guard). */
  quota: z
    .strictObject({
      /** Upstream token calls per app per quota day (China midnight), whatever the cause. */
      dailyBudget: z.number().int().positive().default(500),
      /** Of those, how many ForceRefresh may cause. */
      forceRefreshDailyBudget: z.number().int().nonnegative().default(100),
      /** Least time between two upstream refreshes of an app caused by ForceRefresh. */
      minForceRefreshIntervalSeconds: z.number().nonnegative().default(60),
      /** ForceRefresh calls per client (API key / certificate name, or peer IP) per minute. */
      clientForceRefreshPerMinute: z.number().positive().default(10),
      /** Upstream fetches per ticket (JS-SDK, card, WeCom) per quota day: WeChat's ticket limits are low and unpublished. */
      ticketDailyBudget: z.number().int().positive().default(100),
      /** WeCom ticket fetches per agent per clock hour, both kinds (WeCom allows 100). */
      wecomTicketsPerAgentHour: z.number().int().positive().max(100).default(90),
      /** WeCom ticket fetches per corp per clock hour, all agents (WeCom allows 400). */
      wecomTicketsPerCorpHour: z.number().int().positive().max(400).default(360),
    })
    .prefault({}),
  /** The Official Accounts, Mini Programs and WeCom secrets (at least one, unless an Open Platform is configured). */
  apps: z.array(app).default([]),
  /**
   * Open Platforms (第三方平台): the push receiver WeChat posts verify tickets
   * and authorization events to, and the platforms whose component token and
   * authorizers' tokens the server holds. Absent: off.
   */
  openPlatform: z
    .strictObject({
      /** The push receiver (authorization events and verify tickets): its own HTTP listener, serving nothing else, shared with wecomProviders' suites. Put it behind your HTTPS proxy. */
      receiver: receiver.prefault({}),
      /** The platforms (第三方平台) served: each with its component appid, secret, message Token, EncodingAESKey and push path. */
      platforms: z.array(platform).min(1, "configure at least one platform"),
    })
    .optional(),
  /**
   * WeCom service providers (企业微信服务商): the suites (third-party and 代开发
   * apps) whose suite_access_token and installed corps' tokens and tickets the
   * server holds, and the provider's own provider_access_token. Absent: off.
   */
  wecomProviders: z
    .strictObject({
      /** The push receiver for the suites' 指令回调URL; when openPlatform is configured too, set it there (one listener serves both). Default 127.0.0.1:8090. */
      receiver: receiver.optional(),
      /** The provider's corpid and provider_secret: provider_access_token is held when given. */
      provider: wecomProvider.optional(),
      /** The suites served. */
      suites: z.array(wecomSuite).default([]),
    })
    .refine((w) => w.suites.length > 0 || w.provider !== undefined, { message: "configure at least one suite (or the provider)" })
    .optional(),
  log: z.strictObject({ level: z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"]).default("info") }).prefault({}),
  /**
   * The HTTP/JSON API and server-sent events on a port of their own (the routes
   * of the proto's google.api.http annotations). Absent: off; `{}` serves on
   * 127.0.0.1:8080. Same auth, grants, quota guard and errors as gRPC; HTTPS
   * (and client certificates) with the `tls` section.
   */
  http: z
    .strictObject({
      /** host:port, [ipv6]:port or :port (all interfaces); a non-loopback address needs auth, like the gRPC port. */
      listen: checked((a) => hostPortProblem(a, true), "host:port, [ipv6]:port or :port").default("127.0.0.1:8080"),
      /** Largest request body accepted (413 past it). */
      maxBodyBytes: z.number().int().positive().max(1_048_576).default(65_536),
      /** Seconds between keepalive comments on an idle event stream (idle proxies cut silent connections). */
      keepaliveSeconds: z.number().positive().max(300).default(15),
      /**
       * Host names requests may carry besides loopback names and IP addresses (a defense against DNS rebinding, docs/security.md#dns-rebinding):
       * exact names, "*.example.com" for any name under it, "*" for any. Absent: any Host when auth (or tls.requireClientCert) is configured, else loopback names and IP addresses only.
       */
      allowedHosts: allowedHosts.optional(),
    })
    .optional(),
  /** Prometheus metrics on their own HTTP port (GET /metrics). Absent: off; `{}` serves on 127.0.0.1:9464. */
  metrics: z
    .strictObject({
      listen: checked((a) => hostPortProblem(a, true), "host:port, [ipv6]:port or :port").default("127.0.0.1:9464"),
      /** Host names a scrape may carry besides loopback names and IP addresses (as http.allowedHosts; the port has no authentication, so always checked). */
      allowedHosts: allowedHosts.default([]),
    })
    .optional(),
  /** Connection caps and timeouts of every listener, and the file descriptors kept for the store (docs/security.md#connection-limits). */
  connections: connections.prefault({}),
  /** Caps on open watch streams (WatchToken, event streams, health Watch) per client, per connection and in all (docs/security.md#watch-stream-limits). */
  watches: watchesSchema,
  /** On SIGINT/SIGTERM: how long in-flight calls may take before the server closes anyway. */
  shutdownGraceMs: z.number().int().nonnegative().default(5_000),
  /** Who may call, and what (docs/security.md). Absent: everyone may do everything. */
  auth: authSchema.optional(),
  /** Serve TLS (and accept client certificates). Absent: plaintext. */
  tls: tlsSchema.optional(),
  /** Allow listening on a non-loopback address with no client authentication, on purpose. */
  insecure: z.boolean().default(false),
})
  .superRefine(checkSecurity)
  .refine((c) => c.apps.length > 0 || c.openPlatform !== undefined || c.wecomProviders !== undefined, {
    message: "configure at least one app (or an openPlatform, or wecomProviders)",
    path: ["apps"],
  })
  .refine((c) => c.openPlatform === undefined || c.wecomProviders?.receiver === undefined, {
    message: "the push receiver is one listener: with openPlatform configured, set it at openPlatform.receiver",
    path: ["wecomProviders", "receiver"],
  });

export type Config = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
export type AppConfig = z.infer<typeof app>;
export type OfficialAppConfig = z.infer<typeof officialApp>;
export type WeComAppConfig = z.infer<typeof wecomApp>;
export type PlatformConfig = z.infer<typeof platform>;
export type WeComSuiteConfig = z.infer<typeof wecomSuite>;
export type ReceiverConfig = z.infer<typeof receiver>;

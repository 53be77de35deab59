/**
 * The config file schema (zod): every key, its default and its meaning. The
 * README's config reference is written from this file. Unknown keys are errors,
 * so a typo never silently falls back to a default.
 */
import { z } from "zod";
import { authSchema, checkSecurity, tlsSchema } from "../auth/schema.js";

const app = z
  .strictObject({
    /** The WeChat appid (or WeCom corpid). */
    appId: z.string().regex(/^[A-Za-z0-9_.-]{1,128}$/, "must be 1-128 characters of A-Z a-z 0-9 _ - ."),
    /** Name of the environment variable that holds the appsecret (preferred). */
    secretEnv: z.string().min(1).optional(),
    /** Path of a file that holds the appsecret (e.g. a mounted Kubernetes secret). */
    secretFile: z.string().min(1).optional(),
    /** The appsecret itself. Works, but is warned about: config files get copied and committed. */
    secret: z.string().min(1).optional(),
    /** "token" (GET /cgi-bin/token) or "stable_token" (POST /cgi-bin/stable_token). */
    endpoint: z.enum(["token", "stable_token"]).default("token"),
  })
  .refine((a) => [a.secretEnv, a.secretFile, a.secret].filter((s) => s !== undefined).length === 1, {
    message: "give exactly one of secretEnv, secretFile or secret",
  });

const store = z.discriminatedUnion("type", [
  z.strictObject({
    type: z.literal("file"),
    /** Snapshot path (relative to the config file). Written atomically with mode 0600. */
    path: z.string().min(1).default(".wxtoken/tokens.json"),
  }),
  z.strictObject({ type: z.literal("memory") }),
]);

export const configSchema = z.strictObject({
  /** host:port for gRPC. */
  listen: z.string().min(1).default("127.0.0.1:50051"),
  upstream: z
    .strictObject({
      baseUrl: z.url().default("https://api.weixin.qq.com"),
      connectTimeoutMs: z.number().int().positive().default(5_000),
      timeoutMs: z.number().int().positive().default(10_000),
    })
    .prefault({}),
  store: store.prefault({ type: "file" }),
  refresh: z
    .strictObject({
      /** Refresh this long before expiry (at most half the token's lifetime). */
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
  /** Our own limits on upstream calls, well inside WeChat's 2,000 a day (see README: Quota guard). */
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
    })
    .prefault({}),
  apps: z.array(app).min(1, "configure at least one app"),
  log: z.strictObject({ level: z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"]).default("info") }).prefault({}),
  /** Prometheus metrics on their own HTTP port (GET /metrics). Absent: off; `{}` serves on 127.0.0.1:9464. */
  metrics: z.strictObject({ listen: z.string().min(1).default("127.0.0.1:9464") }).optional(),
  /** On SIGINT/SIGTERM: how long in-flight calls may take before the server closes anyway. */
  shutdownGraceMs: z.number().int().nonnegative().default(5_000),
  /** Who may call, and what (README: Security). Absent: everyone may do everything. */
  auth: authSchema.optional(),
  /** Serve TLS (and accept client certificates). Absent: plaintext. */
  tls: tlsSchema.optional(),
  /** Allow listening on a non-loopback address with no client authentication, on purpose. */
  insecure: z.boolean().default(false),
}).superRefine(checkSecurity);

export type Config = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
export type AppConfig = z.infer<typeof app>;

import { readFileSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import type { ZodError } from "zod";
import { grantWarnings } from "../auth/schema.js";
import { resolveTlsFiles, type TlsFiles } from "../auth/tls-files.js";
import { Secret } from "../secret.js";
import { ConfigError } from "../errors.js";
import { familyOf } from "../issuers/app-families.js";
import type { AppEntry } from "../issuers/types.js";
import { aesKeyOf } from "../platform/crypto.js";
import { defaultPushPath, defaultSuitePath, type PlatformEntry, type ProviderEntry, type SuiteEntry } from "./platforms.js";
import { configSchema, type Config, type ReceiverConfig } from "./schema.js";

export { ConfigError } from "../errors.js";

export interface LoadedConfig {
  config: Config;
  apps: AppEntry[];
  /** Resolved path of the file or SQLite store. */
  storePath?: string;
  /** Resolved path of the SQLite store's store.importFrom, if any. */
  storeImportFrom?: string;
  /** The Redis passwords from store.passwordEnv and store.sentinelPasswordEnv, if any. */
  redisPassword?: Secret;
  redisSentinelPassword?: Secret;
  /** Resolved path of store.tls.caFile, if any. */
  redisCaFile?: string;
  /** The tls section with resolved paths, if the server serves TLS. */
  tls?: TlsFiles;
  /** The Open Platforms, when `openPlatform` is configured. */
  platforms: PlatformEntry[];
  /** The WeCom suites, when `wecomProviders` lists any. */
  suites: SuiteEntry[];
  /** The WeCom provider's own credential, when `wecomProviders.provider` is configured. */
  provider?: ProviderEntry;
  /** Things that work but should be fixed (e.g. a literal secret). */
  warnings: string[];
}

export function loadConfigFile(path: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`config file ${path} is not valid JSON${jsonErrorPlace(err as Error, text)}`);
  }
  return parseConfig(raw, { baseDir: dirname(resolve(path)), env });
}

/**
 * Where JSON.parse stopped, as a line and column. Never its message: that can
 * quote the text around the error (`Unexpected token 'T', ..."secret":TOPS"...`),
 * and a config may hold a secret, so the message would reach logs and
 * `wxtoken retry`.
 */
function jsonErrorPlace(err: Error, text: string): string {
  const at = /at position (\d+)/.exec(err.message);
  if (!at) return " (a value or punctuation is wrong: check quotes and commas)";
  const before = text.slice(0, Number(at[1]));
  const line = before.split("\n").length;
  return ` at line ${line}, column ${before.length - before.lastIndexOf("\n")}`;
}

export function parseConfig(raw: unknown, options: { baseDir?: string; env?: NodeJS.ProcessEnv } = {}): LoadedConfig {
  const env = options.env ?? process.env;
  const baseDir = options.baseDir ?? process.cwd();
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(formatIssues(parsed.error));
  const config = parsed.data;
  const warnings: string[] = [];
  const apps = config.apps.map((a, i): AppEntry => {
    const key = `apps[${i}]`;
    const secret = new Secret(secretValue(a, key, env, baseDir, warnings));
    return a.type === "official"
      ? { type: "official", appId: a.appId, secret, endpoint: a.endpoint, tickets: a.tickets, jsSdk: a.jsSdk }
      : { type: "wecom", corpId: a.corpId, agent: a.agent, secret, tickets: a.tickets, jsSdk: a.jsSdk };
  });
  checkDuplicates(apps);
  /** The message Token and EncodingAESKey of a pushed-ticket platform's entry at `key`. */
  const pushKeys = (p: object, key: string) => {
    const read = (name: string, what: string) => {
      const r = p as Record<string, string | undefined>;
      return new Secret(secretValue({ secretEnv: r[`${name}Env`], secretFile: r[`${name}File`], secret: r[name] }, key, env, baseDir, warnings, name, what));
    };
    const encodingAesKey = read("encodingAesKey", "EncodingAESKey");
    try {
      aesKeyOf(encodingAesKey.reveal());
    } catch {
      throw new ConfigError(`config error at ${key}.encodingAesKey: must be the 43-character EncodingAESKey from the platform's settings`);
    }
    return { messageToken: read("messageToken", "message-verification Token"), encodingAesKey };
  };
  const receiver = receiverOf(config);
  const platforms = (config.openPlatform?.platforms ?? []).map((p, i): PlatformEntry => {
    const key = `openPlatform.platforms[${i}]`;
    const { messageToken, encodingAesKey } = pushKeys(p, key);
    return {
      componentAppId: p.componentAppId,
      secret: new Secret(secretValue(p, key, env, baseDir, warnings)),
      messageToken,
      encodingAesKey,
      path: p.path ?? defaultPushPath(p.componentAppId),
      authorizerTickets: p.authorizerTickets,
      startPushMinIntervalMs: p.startPushMinIntervalSeconds * 1000,
      syncMinIntervalMs: p.syncMinIntervalSeconds * 1000,
      refusedSyncMinIntervalMs: p.refusedSyncMinIntervalSeconds * 1000,
      maxClockSkewMs: receiver.maxClockSkewSeconds * 1000,
      maxCallsPerSecond: p.maxCallsPerSecond,
      maxConcurrentCalls: p.maxConcurrentCalls,
      onDemand: p.authorizerTokens === "on_demand",
      idleAfterMs: p.idleAfterSeconds * 1000,
    };
  });
  const providerCorpId = config.wecomProviders?.provider?.corpId;
  const suites = (config.wecomProviders?.suites ?? []).map((s, i): SuiteEntry => {
    const key = `wecomProviders.suites[${i}]`;
    return {
      suiteId: s.suiteId,
      secret: new Secret(secretValue(s, key, env, baseDir, warnings, "secret", "suite secret")),
      ...pushKeys(s, key),
      path: s.path ?? defaultSuitePath(s.suiteId),
      customApp: s.customApp ?? s.suiteId.startsWith("dk"),
      corpTickets: s.corpTickets,
      allowedOrigins: s.jsSdk.allowedOrigins,
      ...(providerCorpId === undefined ? {} : { providerCorpId }),
      maxClockSkewMs: receiver.maxClockSkewSeconds * 1000,
      maxCallsPerSecond: s.maxCallsPerSecond,
      maxConcurrentCalls: s.maxConcurrentCalls,
      onDemand: s.corpTokens === "on_demand",
      idleAfterMs: s.idleAfterSeconds * 1000,
    };
  });
  const p = config.wecomProviders?.provider;
  const hasSecret = p !== undefined && [p.secretEnv, p.secretFile, p.secret].some((s) => s !== undefined);
  const provider: ProviderEntry | undefined = p && {
    corpId: p.corpId,
    ...(hasSecret ? { secret: new Secret(secretValue(p, "wecomProviders.provider", env, baseDir, warnings, "secret", "provider secret")) } : {}),
  };
  checkPlatforms(platforms, suites, provider, apps);
  const storePath = config.store.type === "file" || config.store.type === "sqlite" ? resolve(baseDir, config.store.path) : undefined;
  const storeImportFrom = config.store.type === "sqlite" && config.store.importFrom !== undefined ? resolve(baseDir, config.store.importFrom) : undefined;
  const redis: Pick<LoadedConfig, "redisPassword" | "redisSentinelPassword" | "redisCaFile"> = {};
  if (config.store.type === "redis") {
    const { passwordEnv, sentinelPasswordEnv, url, tls } = config.store;
    if (passwordEnv !== undefined) {
      redis.redisPassword = new Secret(envValue(env, passwordEnv, "store.passwordEnv"));
    } else if (url !== undefined && new URL(url).password) {
      warnings.push("store.url holds the Redis password in the config file itself; prefer store.passwordEnv");
    }
    if (sentinelPasswordEnv !== undefined) redis.redisSentinelPassword = new Secret(envValue(env, sentinelPasswordEnv, "store.sentinelPasswordEnv"));
    if (tls?.caFile !== undefined) redis.redisCaFile = resolve(baseDir, tls.caFile);
  }
  // Authorizers come and go at run time: a grant naming one is not checked here.
  const known = [
    ...apps.flatMap((a) => familyOf(a).grantIds(a)),
    ...platforms.map((p) => p.componentAppId),
    ...suites.map((s) => s.suiteId),
    ...(provider ? [provider.corpId] : []),
  ];
  warnings.push(...grantWarnings(config.auth, known));
  return { config, apps, platforms, suites, ...(provider ? { provider } : {}), storePath, storeImportFrom, ...redis, tls: resolveTlsFiles(config.tls, baseDir), warnings };
}

/** A secret of the entry at `key` from its one source (NAMEEnv, NAMEFile or NAME; by default the appsecret). */
function secretValue(
  a: { secretEnv?: string; secretFile?: string; secret?: string },
  key: string,
  env: NodeJS.ProcessEnv,
  baseDir: string,
  warnings: string[],
  name = "secret",
  what = "appsecret",
): string {
  if (a.secretEnv !== undefined) return envValue(env, a.secretEnv, `${key}.${name}Env`);
  if (a.secretFile !== undefined) {
    const file = isAbsolute(a.secretFile) ? a.secretFile : resolve(baseDir, a.secretFile);
    let value: string;
    try {
      value = readFileSync(file, "utf8").trim();
    } catch (err) {
      throw new ConfigError(`config error at ${key}.${name}File: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? "error"}`);
    }
    if (value === "") throw new ConfigError(`config error at ${key}.${name}File: ${file} is empty`);
    return value;
  }
  warnings.push(`${key}.${name} holds the ${what} in the config file itself; prefer ${name}Env or ${name}File`);
  return a.secret ?? "";
}

/** The push receiver's settings: openPlatform's, else wecomProviders', else the defaults. */
export function receiverOf(config: Config): ReceiverConfig {
  return config.openPlatform?.receiver ?? config.wecomProviders?.receiver ?? { listen: "127.0.0.1:8090", maxBodyBytes: 65_536, maxClockSkewSeconds: 300 };
}

/**
 * Two platforms on one push path would refuse each other's pushes; a
 * platform's id names its own token, so it is no app of its own nor another
 * platform's; the provider's corpid names the provider token.
 */
function checkPlatforms(platforms: readonly PlatformEntry[], suites: readonly SuiteEntry[], provider: ProviderEntry | undefined, apps: readonly AppEntry[]): void {
  const ids = new Set(apps.map((a) => familyOf(a).owner(a)));
  const seen = new Map<string, string>();
  const paths = new Map<string, string>();
  const entries = [
    ...platforms.map((p, i) => ({ key: `openPlatform.platforms[${i}]`, idField: "componentAppId", id: p.componentAppId, path: p.path })),
    ...suites.map((s, i) => ({ key: `wecomProviders.suites[${i}]`, idField: "suiteId", id: s.suiteId, path: s.path })),
  ];
  // The provider token is named by the bare corpid: a grant on the corp's self-built apps would reach it.
  if (provider && ids.has(provider.corpId)) {
    throw new ConfigError(`config error at wecomProviders.provider.corpId: "${provider.corpId}" is also configured under apps (a grant on that corpid would reach the provider token)`);
  }
  for (const { key, idField, id, path } of entries) {
    if (ids.has(id)) throw new ConfigError(`config error at ${key}.${idField}: "${id}" is also configured under apps`);
    if (provider?.corpId === id) throw new ConfigError(`config error at ${key}.${idField}: "${id}" is also the provider's corpId`);
    const first = seen.get(id);
    if (first !== undefined) throw new ConfigError(`config error at ${key}.${idField}: duplicate of ${first}`);
    seen.set(id, key);
    const other = paths.get(path);
    if (other !== undefined) throw new ConfigError(`config error at ${key}.path: "${path}" is already the path of ${other}`);
    paths.set(path, key);
  }
}

/**
 * Two entries for one app (or one corp+agent) would fetch the same token
 * twice and overwrite each other; the corp jsapi ticket is one per corp; and
 * an id must not be an appid and a corpid at once (requests name either).
 */
function checkDuplicates(apps: readonly AppEntry[]): void {
  const seen = new Map<string, number>();
  const corpTicket = new Map<string, number>();
  const typeOf = new Map<string, AppEntry["type"]>();
  apps.forEach((a, i) => {
    const family = familyOf(a);
    const id = family.entryId(a);
    const first = seen.get(id);
    if (first !== undefined) {
      throw new ConfigError(`config error at apps[${i}].${family.entryField}: duplicate of apps[${first}] ("${id}")`);
    }
    seen.set(id, i);
    const owner = family.owner(a);
    const other = typeOf.get(owner);
    if (other !== undefined && other !== a.type) {
      throw new ConfigError(`config error at apps[${i}]: "${owner}" is configured both as an Official Account appid and as a WeCom corpId`);
    }
    typeOf.set(owner, a.type);
    if (a.type === "wecom" && a.tickets.includes("jsapi")) {
      const holder = corpTicket.get(a.corpId);
      if (holder !== undefined) {
        throw new ConfigError(`config error at apps[${i}].tickets: the corp jsapi ticket of ${a.corpId} is already held by apps[${holder}]; list it on one entry per corp`);
      }
      corpTicket.set(a.corpId, i);
    }
  });
}

/** A variable that must be set and not empty; `key` is the config key that names it. */
function envValue(env: NodeJS.ProcessEnv, name: string, key: string): string {
  const value = env[name] ?? "";
  if (value === "") throw new ConfigError(`config error at ${key}: environment variable ${name} is not set or empty`);
  return value;
}

function formatIssues(error: ZodError): string {
  return error.issues
    .map((issue) => {
      const key = issue.path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("").replace(/^\./, "") || "(root)";
      // zod's message names unrecognized keys itself ('Unrecognized key: "appz"'): not once more.
      return `config error at ${key}: ${issue.message}`;
    })
    .join("\n");
}

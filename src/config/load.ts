import { readFileSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import type { ZodError } from "zod";
import { grantWarnings } from "../auth/schema.js";
import { resolveTlsFiles, type TlsFiles } from "../auth/tls-files.js";
import { Secret } from "../secret.js";
import { ConfigError } from "../errors.js";
import type { AppEntry } from "../issuers/types.js";
import { aesKeyOf } from "../platform/crypto.js";
import { defaultPushPath, type PlatformEntry } from "../openplatform/types.js";
import { configSchema, type Config } from "./schema.js";

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
  checkDuplicates(config.apps);
  const platforms = (config.openPlatform?.platforms ?? []).map((p, i): PlatformEntry => {
    const key = `openPlatform.platforms[${i}]`;
    const read = (name: string, what: string) => {
      const r = p as unknown as Record<string, string | undefined>;
      return new Secret(secretValue({ secretEnv: r[`${name}Env`], secretFile: r[`${name}File`], secret: r[name] }, key, env, baseDir, warnings, name, what));
    };
    const encodingAesKey = read("encodingAesKey", "EncodingAESKey");
    try {
      aesKeyOf(encodingAesKey.reveal());
    } catch {
      throw new ConfigError(`config error at ${key}.encodingAesKey: must be the 43-character EncodingAESKey from the platform's settings`);
    }
    return {
      componentAppId: p.componentAppId,
      secret: new Secret(secretValue(p, key, env, baseDir, warnings)),
      messageToken: read("messageToken", "message-verification Token"),
      encodingAesKey,
      path: p.path ?? defaultPushPath(p.componentAppId),
      authorizerTickets: p.authorizerTickets,
      startPushMinIntervalMs: p.startPushMinIntervalSeconds * 1000,
      syncMinIntervalMs: p.syncMinIntervalSeconds * 1000,
      refusedSyncMinIntervalMs: p.refusedSyncMinIntervalSeconds * 1000,
      maxClockSkewMs: config.openPlatform!.receiver.maxClockSkewSeconds * 1000,
      maxCallsPerSecond: p.maxCallsPerSecond,
      maxConcurrentCalls: p.maxConcurrentCalls,
      onDemand: p.authorizerTokens === "on_demand",
      idleAfterMs: p.idleAfterSeconds * 1000,
    };
  });
  checkPlatforms(platforms, config.apps);
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
  const known = [...config.apps.flatMap((a) => (a.type === "official" ? [a.appId] : [a.corpId, `${a.corpId}/${a.agent}`])), ...platforms.map((p) => p.componentAppId)];
  warnings.push(...grantWarnings(config.auth, known));
  return { config, apps, platforms, storePath, storeImportFrom, ...redis, tls: resolveTlsFiles(config.tls, baseDir), warnings };
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

/** Two platforms on one push path would refuse each other's pushes; a component appid is not an app of its own. */
function checkPlatforms(platforms: readonly PlatformEntry[], apps: Config["apps"]): void {
  const ids = new Set(apps.flatMap((a) => (a.type === "official" ? [a.appId] : [a.corpId])));
  const seen = new Map<string, number>();
  const paths = new Map<string, number>();
  platforms.forEach((p, i) => {
    const key = `openPlatform.platforms[${i}]`;
    if (ids.has(p.componentAppId)) throw new ConfigError(`config error at ${key}.componentAppId: "${p.componentAppId}" is also configured under apps`);
    const first = seen.get(p.componentAppId);
    if (first !== undefined) throw new ConfigError(`config error at ${key}.componentAppId: duplicate of openPlatform.platforms[${first}]`);
    seen.set(p.componentAppId, i);
    const other = paths.get(p.path);
    if (other !== undefined) throw new ConfigError(`config error at ${key}.path: "${p.path}" is already the path of openPlatform.platforms[${other}]`);
    paths.set(p.path, i);
  });
}

/**
 * Two entries for one app (or one corp+agent) would fetch the same token
 * twice and overwrite each other; the corp jsapi ticket is one per corp; and
 * an id must not be an appid and a corpid at once (requests name either).
 */
function checkDuplicates(apps: Config["apps"]): void {
  const seen = new Map<string, number>();
  const corpTicket = new Map<string, number>();
  const kindOf = new Map<string, string>();
  apps.forEach((a, i) => {
    const id = a.type === "official" ? a.appId : `${a.corpId}/${a.agent}`;
    const field = a.type === "official" ? "appId" : "agent";
    const first = seen.get(id);
    if (first !== undefined) {
      throw new ConfigError(`config error at apps[${i}].${field}: duplicate of apps[${first}] ("${id}")`);
    }
    seen.set(id, i);
    const owner = a.type === "official" ? a.appId : a.corpId;
    const other = kindOf.get(owner);
    if (other !== undefined && other !== a.type) {
      throw new ConfigError(`config error at apps[${i}]: "${owner}" is configured both as an Official Account appid and as a WeCom corpId`);
    }
    kindOf.set(owner, a.type);
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

import { readFileSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import type { ZodError } from "zod";
import { grantWarnings } from "../auth/schema.js";
import { resolveTlsFiles, type TlsFiles } from "../auth/tls-files.js";
import { Secret } from "../secret.js";
import type { AppCredentials } from "../upstream/types.js";
import { configSchema, type Config } from "./schema.js";

/** A config problem, with the key that is wrong. The CLI prints it and exits non-zero. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

export interface LoadedConfig {
  config: Config;
  apps: AppCredentials[];
  /** Resolved path of the file store, if the store is a file. */
  storePath?: string;
  /** The Redis passwords from store.passwordEnv and store.sentinelPasswordEnv, if any. */
  redisPassword?: Secret;
  redisSentinelPassword?: Secret;
  /** Resolved path of store.tls.caFile, if any. */
  redisCaFile?: string;
  /** The tls section with resolved paths, if the server serves TLS. */
  tls?: TlsFiles;
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
    throw new ConfigError(`config file ${path} is not valid JSON: ${(err as Error).message}`);
  }
  return parseConfig(raw, { baseDir: dirname(resolve(path)), env });
}

export function parseConfig(raw: unknown, options: { baseDir?: string; env?: NodeJS.ProcessEnv } = {}): LoadedConfig {
  const env = options.env ?? process.env;
  const baseDir = options.baseDir ?? process.cwd();
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(formatIssues(parsed.error));
  const config = parsed.data;
  const warnings: string[] = [];
  const seen = new Set<string>();
  const apps = config.apps.map((a, i): AppCredentials => {
    const key = `apps[${i}]`;
    if (seen.has(a.appId)) throw new ConfigError(`config error at ${key}.appId: duplicate app "${a.appId}"`);
    seen.add(a.appId);
    let value: string;
    if (a.secretEnv !== undefined) {
      value = envValue(env, a.secretEnv, `${key}.secretEnv`);
    } else if (a.secretFile !== undefined) {
      const file = isAbsolute(a.secretFile) ? a.secretFile : resolve(baseDir, a.secretFile);
      try {
        value = readFileSync(file, "utf8").trim();
      } catch (err) {
        throw new ConfigError(`config error at ${key}.secretFile: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? "error"}`);
      }
      if (value === "") throw new ConfigError(`config error at ${key}.secretFile: ${file} is empty`);
    } else {
      value = a.secret ?? "";
      warnings.push(`${key}.secret holds the appsecret in the config file itself; prefer secretEnv or secretFile`);
    }
    return { appId: a.appId, secret: new Secret(value), endpoint: a.endpoint };
  });
  const storePath = config.store.type === "file" ? resolve(baseDir, config.store.path) : undefined;
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
  warnings.push(...grantWarnings(config.auth, config.apps.map((a) => a.appId)));
  return { config, apps, storePath, ...redis, tls: resolveTlsFiles(config.tls, baseDir), warnings };
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
      const keys = "keys" in issue && Array.isArray(issue.keys) ? ` ${issue.keys.map((k) => `"${String(k)}"`).join(", ")}` : "";
      return `config error at ${key}: ${issue.message}${keys}`;
    })
    .join("\n");
}

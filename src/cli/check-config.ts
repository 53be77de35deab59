/**
 * `wxtoken check-config FILE`: the checks `serve` makes before it starts
 * (schema, secrets resolvable, TLS files, exposure), without starting, and a
 * summary of what the file would serve. A deploy pipeline runs it before a
 * restart or a SIGHUP. Names, kinds and addresses only: never a secret.
 */
import { familyOf } from "../issuers/app-families.js";
import { exposureProblem } from "../auth/exposure.js";
import { ConfigError, loadConfigFile, receiverOf, type LoadedConfig } from "../config/load.js";

/** Exits through main: 0 when valid, a ConfigError (78, naming the key) when not. */
export function checkConfigCommand(path: string): void {
  const loaded = loadConfigFile(path);
  for (const [key, address] of listeners(loaded)) {
    const problem = exposureProblem(loaded.config, address);
    if (problem !== undefined) throw new ConfigError(`config error at ${key === "listen" ? "insecure" : key}: ${problem}`);
  }
  for (const w of loaded.warnings) process.stderr.write(`warning: ${w}\n`);
  process.stdout.write(`${JSON.stringify(summary(loaded), null, 2)}\n`);
}

/** The listeners the config opens, by the key that sets each. */
function listeners(loaded: LoadedConfig): [string, string][] {
  const { config } = loaded;
  const out: [string, string][] = [["listen", config.listen]];
  if (config.http) out.push(["http.listen", config.http.listen]);
  if (config.metrics) out.push(["metrics.listen", config.metrics.listen]);
  // One push receiver for every pushed-ticket platform: where it is configured, or its default.
  if (config.openPlatform) out.push(["openPlatform.receiver.listen", config.openPlatform.receiver.listen]);
  else if (config.wecomProviders?.suites.length) out.push(["wecomProviders.receiver.listen", receiverOf(config).listen]);
  return out;
}

/** A URL without its user and password. */
function withoutCredentials(url: string): string {
  const u = new URL(url);
  u.username = "";
  u.password = "";
  return u.toString();
}

function storeSummary(loaded: LoadedConfig): Record<string, unknown> {
  const store = loaded.config.store;
  switch (store.type) {
    case "redis":
      return {
        type: "redis",
        ...(store.url ? { url: withoutCredentials(store.url) } : {}),
        ...(store.sentinels ? { sentinels: store.sentinels, masterName: store.masterName } : {}),
        keyPrefix: store.keyPrefix,
        tls: store.tls !== undefined,
      };
    case "memory":
      return { type: "memory" };
    default:
      return { type: store.type, path: loaded.storePath };
  }
}

function summary(loaded: LoadedConfig): Record<string, unknown> {
  const { config } = loaded;
  return {
    valid: true,
    apps: loaded.apps.map((a) => ({
      ...(a.type === "official" ? { appId: a.appId } : { corpId: a.corpId, agent: a.agent }),
      type: a.type,
      kinds: familyOf(a).kinds(a),
    })),
    platforms: loaded.platforms.map((p) => ({ componentAppId: p.componentAppId, pushPath: p.path, authorizerKinds: ["access_token", ...p.authorizerTickets.map((t) => `${t}_ticket`)] })),
    ...(loaded.suites.length > 0
      ? { suites: loaded.suites.map((s) => ({ suiteId: s.suiteId, customApp: s.customApp, pushPath: s.path, corpKinds: ["access_token", ...s.corpTickets.map((t) => `${t}_ticket`)] })) }
      : {}),
    ...(loaded.provider ? { provider: { corpId: loaded.provider.corpId } } : {}),
    store: storeSummary(loaded),
    listeners: Object.fromEntries(listeners(loaded)),
    tls: loaded.tls === undefined ? "off" : loaded.tls.clientCaFile ? "mutual" : "on",
    clients: config.auth?.clients.map((c) => c.name) ?? "open (no client authentication)",
  };
}

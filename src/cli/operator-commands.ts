/**
 * Commands for the operator who just fixed what made WeChat refuse:
 * `wxtoken retry` (every failing credential of a running server tries again
 * now) and `wxtoken clear-quota APP` (WeChat's clear_quota/v2, for the day the
 * daily token quota is gone).
 */
import { readFileSync } from "node:fs";
import { loadConfigFile } from "../config/load.js";
import { WeChatError, isUpstreamError } from "../upstream/errors.js";
import { WeChatClient } from "../upstream/wechat-client.js";
import { UsageError } from "./flags.js";

/** Sends SIGHUP to the server (from --pid, or the --pidfile `serve --pidfile` wrote): reload, then retry what fails. */
export function retryCommand(opts: { pid?: string; pidfile?: string }): void {
  const raw = opts.pid ?? (opts.pidfile ? readFileSync(opts.pidfile, "utf8").trim() : undefined);
  if (raw === undefined) throw new UsageError("retry needs --pid PID or --pidfile FILE (serve --pidfile FILE writes it)");
  const pid = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(pid) || pid <= 1) throw new UsageError(`not a process id: "${raw.slice(0, 20)}"`);
  process.kill(pid, "SIGHUP");
  process.stdout.write(`sent SIGHUP to ${pid}: the server reloads its config and every failing credential tries again now (subject to its quota guard)\n`);
}

/**
 * WeChat's POST /cgi-bin/clear_quota/v2 with the app's appid and appsecret
 * from the config (it works when no token can be had; it shares the 10 resets
 * a month with clear_quota). The secret goes to WeChat only.
 */
export async function clearQuotaCommand(configPath: string, appId: string): Promise<void> {
  const loaded = loadConfigFile(configPath);
  const app = loaded.apps.find((a) => a.type === "official" && a.appId === appId);
  if (!app || app.type !== "official") throw new UsageError(`no Official Account / Mini Program "${appId}" in ${configPath}`);
  const client = new WeChatClient({ baseUrl: loaded.config.upstream.baseUrl, timeoutMs: loaded.config.upstream.timeoutMs });
  const secret = app.secret.reveal();
  try {
    await client.request("/cgi-bin/clear_quota/v2", { method: "POST", body: { appid: appId, appsecret: secret }, redact: [secret] });
    process.stdout.write(`WeChat reset the API quotas of ${appId} (10 resets a month). Run \`wxtoken retry\` so failing credentials try again now.\n`);
  } catch (err) {
    if (err instanceof WeChatError) {
      const hint = err.errcode === 48006 ? " (this month's 10 resets are used up)" : "";
      process.stderr.write(`error: ${err.message}${hint}\n`);
      process.exit(1);
    }
    if (isUpstreamError(err)) {
      process.stderr.write(`error: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  } finally {
    await client.close();
  }
}

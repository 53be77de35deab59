/**
 * Commands for the operator who just fixed what made WeChat refuse:
 * `wxtoken retry` (the running server reloads its config and every failing
 * credential tries again now) and `wxtoken clear-quota APP` (WeChat's
 * clear_quota/v2, for the day the daily token quota is gone).
 */
import { familyOf } from "../issuers/app-families.js";
import type { OfficialApp } from "../issuers/types.js";
import { readFileSync } from "node:fs";
import { loadConfigFile } from "../config/load.js";
import { WeChatError, isUpstreamError } from "../upstream/errors.js";
import { WeChatClient } from "../upstream/wechat-client.js";
import { UsageError } from "./flags.js";
import { awaitReload, readReloadStatus, reloadStatusPath } from "./reload-status.js";

/**
 * Sends SIGHUP to the server (from --pidfile, which `serve --pidfile` wrote, or
 * --pid): reload, then retry what fails. With --pidfile it waits (up to
 * timeoutMs) for the outcome the server writes beside it, and exits 1 with the
 * reason when the config was not applied; --pid alone cannot know the outcome.
 */
export async function retryCommand(opts: { pid?: string; pidfile?: string; timeoutMs: number }): Promise<void> {
  const raw = opts.pid ?? (opts.pidfile ? readPidfile(opts.pidfile) : undefined);
  if (raw === undefined) throw new UsageError("retry needs --pidfile FILE (serve --pidfile FILE writes it) or --pid PID");
  const pid = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(pid) || pid <= 1) throw new UsageError(`not a process id: "${raw.slice(0, 20)}"`);
  const statusFile = opts.pidfile ? reloadStatusPath(opts.pidfile) : undefined;
  const before = statusFile ? readReloadStatus(statusFile) : undefined;
  try {
    process.kill(pid, "SIGHUP");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    fail(code === "ESRCH" ? `no process ${pid}: the server is not running${opts.pidfile ? ` (${opts.pidfile} is left from an earlier run?)` : ""}` : `cannot signal ${pid}: ${(err as Error).message}`);
  }
  if (!statusFile) {
    process.stdout.write(`sent SIGHUP to ${pid}; whether its config reloaded is not known without --pidfile: see its log ("config reloaded" or "config reload failed")\n`);
    return;
  }
  const after = before && before.pid === pid ? before.reloads : 0;
  const status = await awaitReload(statusFile, pid, after, opts.timeoutMs);
  if (!status) {
    fail(`sent SIGHUP to ${pid}, but it reported no outcome in ${statusFile} within ${opts.timeoutMs} ms (a server older than this command writes none): see its log`);
  }
  const retrying = status.retrying.length > 0 ? `${status.retrying.length} failing credential(s) try again now: ${status.retrying.join(", ")}` : "no credential was failing";
  if (!status.ok) {
    const still = status.retrying.length > 0 ? `\n${retrying}, with the config it had` : "";
    fail(`the server (${pid}) did not apply the config and keeps running with the one it had: ${status.error ?? "unknown error"}${still}`);
  }
  process.stdout.write(`the server (${pid}) reloaded its config; ${retrying} (subject to its quota guard)\n`);
  if (status.needsRestart.length > 0) process.stdout.write(`these changes take effect after a restart: ${status.needsRestart.join(", ")}\n`);
}

function readPidfile(path: string): string {
  try {
    return readFileSync(path, "utf8").trim();
  } catch (err) {
    fail(`cannot read ${path}: ${(err as Error).message} (is the server running with --pidfile ${path}?)`);
  }
}

function fail(message: string): never {
  process.stderr.write(`error: ${message}\n`);
  process.exit(1);
}

/**
 * WeChat's POST /cgi-bin/clear_quota/v2 with the app's appid and appsecret
 * from the config (it works when no token can be had; it shares the 10 resets
 * a month with clear_quota). The secret goes to WeChat only.
 */
export async function clearQuotaCommand(configPath: string, appId: string): Promise<void> {
  const loaded = loadConfigFile(configPath);
  const app = loaded.apps.find((a): a is OfficialApp => familyOf(a).quotaReset && familyOf(a).owner(a) === appId);
  if (!app) throw new UsageError(`no Official Account / Mini Program "${appId}" in ${configPath}`);
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

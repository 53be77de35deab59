import { rmSync, writeFileSync } from "node:fs";
import { loadConfigFile } from "../config/load.js";
import { createLogger } from "../log.js";
import { WxTokenServer } from "../wxtoken.js";
import { reloadStatusPath, removeReloadStatus, writeReloadStatus } from "./reload-status.js";

/**
 * Runs until SIGINT/SIGTERM, then shuts down in order (see
 * WxTokenServer.shutdown). SIGHUP reloads the config and makes every failing
 * credential try again at once (`wxtoken retry` sends it). With --pidfile,
 * the outcome of each reload is kept beside it for `wxtoken retry` to read
 * (reload-status.ts).
 */
export async function serveCommand(configPath: string, listen?: string, pidfile?: string): Promise<void> {
  const loaded = loadConfigFile(configPath);
  const log = createLogger({ level: loaded.config.log.level });
  for (const w of loaded.warnings) log.warn(w);
  const server = await WxTokenServer.create(loaded, { log });
  await server.listen(listen ?? loaded.config.listen);
  const statusFile = pidfile ? reloadStatusPath(pidfile) : undefined;
  let reloads = 0;
  const report = (outcome: { ok: boolean; error?: string; needsRestart?: string[]; retrying?: string[] }) => {
    if (!statusFile) return;
    try {
      writeReloadStatus(statusFile, { pid: process.pid, reloads, at: new Date().toISOString(), needsRestart: [], retrying: [], ...outcome });
    } catch (err) {
      log.error({ err: (err as Error).message, file: statusFile }, "cannot write the reload status file; wxtoken retry will not learn the outcome");
    }
  };
  report({ ok: true });
  if (pidfile) writeFileSync(pidfile, `${process.pid}\n`);
  // SIGHUP: re-read the config (apps and auth change in place, a bad file
  // changes nothing), then retry what was failing: the operator may have
  // fixed the whitelist or reset the quota.
  process.on("SIGHUP", () => {
    reloads++;
    let outcome: { ok: boolean; error?: string; needsRestart?: string[] };
    try {
      const next = loadConfigFile(configPath);
      for (const w of next.warnings) log.warn(w);
      const { needsRestart } = server.reload(next);
      if (needsRestart.length > 0) log.warn({ keys: needsRestart }, "these config changes take effect after a restart");
      outcome = { ok: true, needsRestart };
    } catch (err) {
      log.error({ err: (err as Error).message }, "config reload failed; keeping the running config");
      outcome = { ok: false, error: (err as Error).message };
    }
    report({ ...outcome, retrying: server.retryFailing() });
  });
  const signal = await untilSignal();
  log.info({ signal }, "signal received");
  await server.shutdown();
  if (pidfile) rmSync(pidfile, { force: true });
  if (statusFile) removeReloadStatus(statusFile);
  // Nothing should be left, but an exit within seconds is a promise to operators.
  process.exit(0);
}

/** Resolves on the first SIGINT or SIGTERM; a second one exits at once. */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      process.removeListener("SIGINT", onSignal);
      process.removeListener("SIGTERM", onSignal);
      process.once("SIGINT", () => process.exit(130));
      process.once("SIGTERM", () => process.exit(143));
      resolve(signal);
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  });
}

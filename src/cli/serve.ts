import { rmSync, writeFileSync } from "node:fs";
import { setLogger } from "@grpc/grpc-js";
import { loadConfigFile, type LoadedConfig } from "../config/load.js";
import { createLogger } from "../log.js";
import { WxTokenServer } from "../wxtoken.js";
import { EXIT } from "./failures.js";
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
  withoutBindFailureLog();
  try {
    await server.listen(listen ?? loaded.config.listen);
  } catch (err) {
    const taken = addressInUse(err, loaded, listen);
    if (taken === undefined) throw err;
    // The one error output: which address, which key (grpc-js's own line is dropped, see withoutBindFailureLog).
    process.stderr.write(`error: ${taken}\n`);
    process.exit(EXIT.addressInUse);
  }
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
      const { needsRestart } = server.reloadFrom(() => {
        const next = loadConfigFile(configPath);
        for (const w of next.warnings) log.warn(w);
        return next;
      });
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

/** What grpc-js logs when bindAsync fails; the rejection carries the same words and the cause, and serve reports it. */
const BIND_FAILURE = /^No address added out of total \d+ resolved$/;

/**
 * grpc-js's logger as it is by default (each line on stderr after E, I or D,
 * at the verbosity GRPC_VERBOSITY sets), less its line about a failed bind:
 * printed before serve's own message, it only said "No address added" twice.
 * The process is serve's, so its logger is too; every other line still shows.
 */
function withoutBindFailureLog(): void {
  const line = (prefix: string) => (message?: unknown, ...rest: unknown[]) => {
    if (prefix === "E " && typeof message === "string" && BIND_FAILURE.test(message)) return;
    console.error(prefix + String(message), ...rest);
  };
  setLogger({ error: line("E "), info: line("I "), debug: line("D ") });
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

/**
 * When a listener's address is taken, which one and the key that sets it:
 * grpc-js says only "No address added out of total 1 resolved", and Node's
 * EADDRINUSE names an address but not which of the four listeners it is.
 */
export function addressInUse(err: unknown, loaded: LoadedConfig, listenFlag?: string): string | undefined {
  const message = (err as Error | undefined)?.message ?? "";
  const inUse = /EADDRINUSE: address already in use (\S+?)\]?$/m.exec(message);
  if ((err as NodeJS.ErrnoException | undefined)?.code !== "EADDRINUSE" && !inUse) return undefined;
  const taken = inUse?.[1] ?? "";
  const { config } = loaded;
  const port = (address: string): string => address.slice(address.lastIndexOf(":") + 1);
  const listeners: [string, string | undefined][] = [
    [listenFlag !== undefined ? "--listen" : "listen", listenFlag ?? config.listen],
    ["http.listen", config.http?.listen],
    ["metrics.listen", config.metrics?.listen],
    ["openPlatform.receiver.listen", config.openPlatform?.receiver?.listen],
  ];
  // grpc-js's message is the only one with "No address added": the gRPC listener.
  const grpc = /No address added/.test(message);
  const match = grpc ? listeners[0] : listeners.find(([key, a]) => key !== listeners[0]![0] && a !== undefined && port(a) === port(taken));
  const key = match?.[0];
  const address = taken || match?.[1];
  if (key === undefined) return `address ${address} is already in use: stop what holds it, or change the listener's port`;
  return `address ${address} is already in use; it is ${key}${grpc ? " (the gRPC listener)" : ""}: stop what holds it, or change ${key}`;
}

/**
 * The real server as the scale bench runs it: `wxtoken serve --config FILE`
 * in a child process of its own (as deployed), so /proc gives its own CPU
 * and RSS. It runs with the inspector on loopback, so the bench can ask V8
 * for a full GC before reading RSS without any code in the server for it.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { WebSocket } from "undici";
import { sleep } from "../support/stats.js";
import { COMPONENT, COMPONENT_ENV } from "./fake.js";
import { cpuSeconds, freePort, rssBytes } from "./proc.js";

const CLI = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

export interface ServerSetup {
  /** Where the config (and, with the default store, the store) lives. */
  dir: string;
  /** A name for the log file (server-<name>.log in dir). */
  name: string;
  upstreamUrl: string;
  /** The push receiver's port (the fake pushes there). */
  receiverPort: number;
  /** Extra keys of the platform's config entry (a ceiling, when the server has the key). */
  platform?: Record<string, unknown>;
  /** The store section; absent: the server's default store, next to the config file. */
  store?: Record<string, unknown>;
}

/** The config the bench serves with: one platform, no apps, nothing else but what the setup says. */
export function serverConfig(s: ServerSetup, grpcPort: number): Record<string, unknown> {
  return {
    listen: `127.0.0.1:${grpcPort}`,
    upstream: { baseUrl: s.upstreamUrl },
    ...(s.store ? { store: s.store } : {}),
    openPlatform: {
      receiver: { listen: `127.0.0.1:${s.receiverPort}` },
      platforms: [
        { componentAppId: COMPONENT, secretEnv: "BENCH_COMPONENT_SECRET", messageTokenEnv: "BENCH_MESSAGE_TOKEN", encodingAesKeyEnv: "BENCH_AES_KEY", ...s.platform },
      ],
    },
  };
}

export class ServerProcess {
  private inspectorUrl: string | undefined;
  private readonly exit: Promise<void>;
  private exited = false;

  private constructor(
    private readonly child: ChildProcess,
    readonly target: string,
    readonly logPath: string,
    /** Wall-clock ms when it was spawned. */
    readonly startedAt: number,
  ) {
    this.exit = new Promise((resolve) => child.once("exit", () => ((this.exited = true), resolve())));
  }

  static start(s: ServerSetup): Promise<ServerProcess> {
    return ServerProcess.spawn({ dir: s.dir, name: s.name, config: (grpcPort) => serverConfig(s, grpcPort), env: COMPONENT_ENV });
  }

  /**
   * `wxtoken serve` on any config (the WeCom suite bench's too): `config`
   * makes it for the free gRPC port it is given; `env` holds the secrets
   * its *Env keys name. Config and log go to `dir`.
   */
  static async spawn(o: { dir: string; name: string; config: (grpcPort: number) => Record<string, unknown>; env: Record<string, string> }): Promise<ServerProcess> {
    const grpcPort = await freePort();
    const configPath = join(o.dir, `config-${o.name}.json`);
    writeFileSync(configPath, JSON.stringify(o.config(grpcPort), null, 2));
    const logPath = join(o.dir, `server-${o.name}.log`);
    const log = createWriteStream(logPath, { flags: "a" });
    const startedAt = Date.now();
    const child = spawn(process.execPath, ["--inspect=127.0.0.1:0", CLI, "serve", "--config", configPath], {
      env: { ...process.env, ...o.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const server = new ServerProcess(child, `127.0.0.1:${grpcPort}`, logPath, startedAt);
    child.stdout!.pipe(log);
    child.stderr!.on("data", (chunk: Buffer) => {
      log.write(chunk);
      server.inspectorUrl ??= /Debugger listening on (ws:\/\/\S+)/.exec(chunk.toString())?.[1];
    });
    return server;
  }

  get pid(): number {
    return this.child.pid!;
  }

  get alive(): boolean {
    return !this.exited;
  }

  cpuSeconds(): number | undefined {
    return cpuSeconds(this.pid);
  }

  rssBytes(): number | undefined {
    return rssBytes(this.pid);
  }

  /** The last lines of its log, for an error message. */
  logTail(lines = 15): string {
    try {
      return readFileSync(this.logPath, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
    } catch {
      return "(no log)";
    }
  }

  /**
   * A full GC through the inspector (HeapProfiler.collectGarbage), then the
   * heap as the process sees it; undefined when the inspector cannot be
   * reached (RSS is then read without a GC).
   */
  async collectGarbage(): Promise<{ heapUsed: number } | undefined> {
    if (!this.inspectorUrl) return undefined;
    const ws = new WebSocket(this.inspectorUrl);
    try {
      await new Promise<void>((resolve, reject) => {
        ws.addEventListener("open", () => resolve());
        ws.addEventListener("error", () => reject(new Error("inspector unreachable")));
      });
      let id = 0;
      const pending = new Map<number, (result: unknown) => void>();
      ws.addEventListener("message", (e) => {
        const m = JSON.parse(String(e.data)) as { id?: number; result?: unknown };
        if (m.id !== undefined) pending.get(m.id)?.(m.result);
      });
      const send = (method: string, params: object = {}): Promise<unknown> =>
        new Promise((resolve) => {
          pending.set(++id, resolve);
          ws.send(JSON.stringify({ id, method, params }));
        });
      for (let i = 0; i < 3; i++) await send("HeapProfiler.collectGarbage");
      const r = (await send("Runtime.evaluate", { expression: "process.memoryUsage().heapUsed", returnByValue: true })) as { result?: { value?: number } };
      await sleep(200);
      return { heapUsed: r.result?.value ?? Number.NaN };
    } catch {
      return undefined;
    } finally {
      ws.close();
    }
  }

  /** SIGTERM (the server writes what it holds and exits), SIGKILL after graceMs. */
  async stop(graceMs = 60_000): Promise<void> {
    if (this.exited) return;
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), graceMs);
    await this.exit;
    clearTimeout(timer);
  }
}

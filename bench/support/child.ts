/**
 * Load generators run in their own process (child_process.fork), so that the
 * client and the server under test never share one event loop: on a 2-core
 * machine each gets a core. Messages both ways are plain JSON.
 */
import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

export class LoadProcess<Out extends { type: string }> {
  private readonly child: ChildProcess;
  private readonly queue: Out[] = [];
  private waiters: Array<{ type: string; resolve: (m: Out) => void; reject: (e: Error) => void }> = [];
  private exited: Error | undefined;

  /** script: a file in bench/load/, e.g. "unary-client.js". */
  constructor(script: string, execArgv: string[] = []) {
    const path = fileURLToPath(new URL(`../load/${script}`, import.meta.url));
    this.child = fork(path, [], { stdio: ["ignore", "inherit", "inherit", "ipc"], execArgv });
    this.child.on("message", (m) => this.deliver(m as Out));
    this.child.on("exit", (code, signal) => {
      this.exited = new Error(`load process ${script} exited (code ${code}, signal ${signal})`);
      for (const w of this.waiters) w.reject(this.exited);
      this.waiters = [];
    });
  }

  send(message: object): void {
    this.child.send(message);
  }

  /** The next message of this type (queued ones first). */
  next<T extends Out["type"]>(type: T, timeoutMs = 120_000): Promise<Extract<Out, { type: T }>> {
    const i = this.queue.findIndex((m) => m.type === type);
    if (i >= 0) return Promise.resolve(this.queue.splice(i, 1)[0] as Extract<Out, { type: T }>);
    if (this.exited) return Promise.reject(this.exited);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no "${type}" from the load process within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push({
        type,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m as Extract<Out, { type: T }>);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
    });
  }

  /** Asks the process to stop and waits for it to exit (killing it after a grace period). */
  async stop(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    this.child.send({ type: "stop" });
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 5000);
    await gone;
    clearTimeout(timer);
  }

  private deliver(m: Out): void {
    const i = this.waiters.findIndex((w) => w.type === m.type);
    if (i >= 0) this.waiters.splice(i, 1)[0]!.resolve(m);
    else this.queue.push(m);
  }
}

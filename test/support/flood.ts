/**
 * Connection floods for tests: plain TCP connections held open on a port that
 * never send a byte (what exhausted the server's descriptors), and the
 * server's connection metrics read back.
 */
import { connect, type Socket } from "node:net";

export class IdleFlood {
  private closedByServer = 0;

  private constructor(readonly sockets: Socket[]) {}

  /** Opens n connections one after the other (so the server sees them in order), each idle from then on. */
  static async open(port: number, n: number): Promise<IdleFlood> {
    const flood = new IdleFlood([]);
    for (let i = 0; i < n; i++) {
      const socket = connect({ port, host: "127.0.0.1" });
      socket.on("error", () => undefined);
      // Read (and drop) what the server sends, so its FIN is seen.
      socket.resume();
      socket.once("close", () => flood.closedByServer++);
      // A full listener may close one before its connect is even reported (ECONNRESET): closed by the server all the same.
      await new Promise<void>((resolve) => socket.once("connect", resolve).once("close", resolve));
      flood.sockets.push(socket);
    }
    return flood;
  }

  /** How many the server has closed (none is closed by this side before destroy()). */
  get closed(): number {
    return this.closedByServer;
  }

  destroy(): void {
    for (const s of this.sockets) s.destroy();
  }
}

/** The value of one sample in the Prometheus text format, or undefined when it is not there. */
export function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  const want = Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(",");
  for (const line of text.split("\n")) {
    const m = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m && m[1] === name && (m[2] ?? "") === want) return Number(m[3]);
  }
  return undefined;
}

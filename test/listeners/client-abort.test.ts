/**
 * A client that closes its connection in the middle of a request body (issue
 * 18, item 4) is the client's doing: logged at debug level, counted as its
 * own outcome (HTTP API: code CANCELLED; push receiver: result "aborted"),
 * never an error line with a stack trace, an INTERNAL count or "push
 * receiver: internal error". Raw sockets send half a body, then close.
 */
import { connect } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { APP, eventually } from "../support/harness.js";
import { sample } from "../support/flood.js";
import { COMPONENT, PlatformHarness, PUSH_PATH } from "../support/platform.js";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Sends the request line, headers and part of a body of `length` bytes, then closes (FIN, or RST when `reset`). */
async function halfBody(port: number, head: string, partial: string, length: number, reset = false): Promise<void> {
  const socket = connect({ port, host: "127.0.0.1" });
  socket.on("error", () => undefined);
  // Whatever the server answers is read, so its close is seen.
  socket.resume();
  await new Promise((resolve) => socket.once("connect", resolve));
  socket.write(`${head}\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n${partial}`);
  // Let the server start reading the body before the connection goes.
  await new Promise((resolve) => setTimeout(resolve, 50));
  if (reset) socket.resetAndDestroy();
  else socket.end();
  await new Promise((resolve) => socket.once("close", resolve));
}

async function platform(): Promise<PlatformHarness> {
  const p = await PlatformHarness.start({
    apps: [{ appId: APP, secretEnv: `SECRET_${APP}` }],
    config: { http: { listen: "127.0.0.1:0" }, metrics: { listen: "127.0.0.1:0" } },
  });
  cleanups.push(() => p.stop());
  return p;
}

function parsed(p: PlatformHarness): { level: number; msg: string }[] {
  return p.h.logs.lines.map((l) => JSON.parse(l) as { level: number; msg: string });
}

describe("a request body cut short by the client", () => {
  it.each([false, true])("HTTP API (reset %s): debug line, counted CANCELLED, no error, no INTERNAL", async (reset) => {
    const p = await platform();
    const port = p.h.server.httpPort!;
    await halfBody(port, `POST /v1/apps/${APP}/token:refresh HTTP/1.1`, '{"staleToken":"abc', 200, reset);
    const count = async (code: string) => sample(await p.h.server.metrics!.scrape(), "wxtoken_rpc_total", { transport: "http", method: "ForceRefresh", code }) ?? 0;
    await eventually(async () => expect(await count("CANCELLED")).toBe(1));
    expect(await count("INTERNAL")).toBe(0);
    const lines = parsed(p);
    expect(lines.filter((l) => l.msg === "HTTP request aborted by the client mid-body").map((l) => l.level)).toEqual([20]);
    expect(lines.filter((l) => l.level >= 50)).toEqual([]);
    // The server still answers on the same port.
    const ok = await fetch(`http://127.0.0.1:${port}/v1/apps/${APP}/token`);
    expect(ok.status).toBe(200);
  });

  it.each([false, true])("push receiver (reset %s): debug line, result aborted, no internal error", async (reset) => {
    const p = await platform();
    const port = p.h.server.receiverPort!;
    const query = `timestamp=${Math.floor(p.clock.now() / 1000)}&nonce=1&encrypt_type=aes&msg_signature=${"0".repeat(40)}`;
    await halfBody(port, `POST ${PUSH_PATH}?${query} HTTP/1.1`, "<xml><AppId><![CDATA[wx", 500, reset);
    const aborted = async () =>
      sample(await p.h.server.metrics!.scrape(), "wxtoken_platform_pushes_total", { component: COMPONENT, info_type: "", result: "aborted" }) ?? 0;
    await eventually(async () => expect(await aborted()).toBe(1));
    const lines = parsed(p);
    expect(lines.filter((l) => l.msg === "push aborted by the sender mid-body").map((l) => l.level)).toEqual([20]);
    expect(lines.filter((l) => l.msg.includes("internal error"))).toEqual([]);
    expect(lines.filter((l) => l.level >= 50)).toEqual([]);
    // A genuine push after it is stored.
    p.fake.component.pushUrl = p.pushUrl;
    expect(await p.fake.component.pushTicket()).toMatchObject({ status: 200, body: "success" });
  });
});

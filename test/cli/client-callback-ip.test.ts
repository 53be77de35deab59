import { afterEach, describe, expect, it, vi } from "vitest";
import { callbackIpCommand } from "../../src/cli/callback-ip.js";
import { APP, eventually, Harness } from "../support/harness.js";

let h: Harness | undefined;
afterEach(async () => {
  vi.restoreAllMocks();
  await h?.stop();
  h = undefined;
});

/** Captures what is written to a stream; onLine runs synchronously as each line is written. */
function capture(stream: NodeJS.WriteStream, onLine: (line: string, index: number) => void = () => {}): string[] {
  const lines: string[] = [];
  vi.spyOn(stream, "write").mockImplementation(((chunk: string | Uint8Array) => {
    for (const line of String(chunk).split("\n").filter(Boolean)) {
      lines.push(line);
      onLine(line, lines.length - 1);
    }
    return true;
  }) as typeof stream.write);
  return lines;
}

describe("wxtoken callback-ip", () => {
  it("prints the callback IP list, and recovers when WeChat invalidates the token mid-run", async () => {
    h = await Harness.start();
    const fake = h.fake;
    // Right after the first answer is printed, someone else "refreshes" the token.
    const stdout = capture(process.stdout, (_line, i) => i === 0 && fake.invalidateTokens(APP));
    const stderr = capture(process.stderr);
    await callbackIpCommand({ addr: `127.0.0.1:${h.port}`, appId: APP, wechatBaseUrl: fake.url, repeat: 3, intervalMs: 0, clock: h.clock });
    vi.restoreAllMocks();

    expect(stdout).toHaveLength(3);
    const lists = stdout.map((line) => JSON.parse(line) as string[]);
    expect(lists[0]).toContain("106.55.206.146");
    expect(lists[1]).toEqual(lists[0]);
    expect(lists[2]).toEqual(lists[0]);
    expect(stderr).toEqual([expect.stringMatching(/^WeChat rejected the token \(errcode 40001\); retrying with token v2 \([0-9a-f]{8}\)$/)]);
    // One initial token plus exactly one passive refresh; the 40001 answer plus three good ones.
    expect(fake.successfulTokenCalls(APP)).toBe(2);
    expect(fake.calls("/cgi-bin/getcallbackip", APP)).toBe(4);
    // The command closed its TokenSource.
    await eventually(() => expect(h!.server.tokens.watcherCount()).toBe(0));
  });

  it("fails with a clear error for an app the server does not know", async () => {
    h = await Harness.start();
    await expect(
      callbackIpCommand({ addr: `127.0.0.1:${h.port}`, appId: "wxunknown0000000", wechatBaseUrl: h.fake.url, clock: h.clock }),
    ).rejects.toThrow(/WatchToken failed: NOT_FOUND/);
  });
});

/**
 * What the outside can write into the log and the metrics: a flood of forged
 * pushes over real HTTP leaves the first refusal of each kind and one summary
 * line per 10 s with the exact counts (not a line per request), and an
 * InfoType wxtoken does not know is the label "other", whatever it says.
 */
import { Agent, request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { FakeClock } from "../../src/clock.js";
import { createLogger } from "../../src/log.js";
import { Metrics } from "../../src/metrics/metrics.js";
import { messageXml, sealPush, type PushKeys, type SealedPush } from "../../src/platform/push.js";
import { PushReceiver, type PushOutcome, type PushTarget } from "../../src/platform/receiver.js";
import { LogCapture } from "../support/harness.js";

const COMPONENT = "wxcomponentflood01";
const KEYS: PushKeys = { token: "flood-push-token", encodingAesKey: "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", receiverId: COMPONENT };
const PATH = `/wechat/open/${COMPONENT}`;

interface Line {
  msg: string;
  level: number;
  result?: string;
  refused?: number;
  reasons?: Record<string, number>;
  remotes?: string[];
  infoType?: string;
}

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function start() {
  const clock = new FakeClock();
  const logs = new LogCapture();
  const metrics = new Metrics(clock);
  const handled: Record<string, string>[] = [];
  const target: PushTarget = {
    path: PATH,
    keys: KEYS,
    handle: async (fields): Promise<PushOutcome> => {
      handled.push(fields);
      return "ignored";
    },
  };
  const receiver = new PushReceiver({
    listen: "127.0.0.1:0",
    targets: [target],
    maxBodyBytes: 65_536,
    maxClockSkewMs: 300_000,
    clock,
    log: createLogger({ level: "info", destination: logs }),
    observe: (component, infoType, result) => metrics.observePush(component, infoType, result),
  });
  const port = await receiver.listen();
  const agent = new Agent({ connections: 32 });
  cleanups.push(() => receiver.close(), () => agent.close());
  const base = `http://127.0.0.1:${port}`;
  const post = async (push: SealedPush, path = PATH): Promise<number> => {
    const res = await request(`${base}${path}?${push.query}`, { method: "POST", body: push.body, headers: { "content-type": "text/xml" }, dispatcher: agent });
    await res.body.text();
    return res.statusCode;
  };
  /** n requests, 32 at a time; the statuses they got. */
  const flood = async (n: number, send: () => Promise<number>): Promise<number[]> => {
    const statuses: number[] = [];
    for (let i = 0; i < n; i += 32) statuses.push(...(await Promise.all(Array.from({ length: Math.min(32, n - i) }, send))));
    return statuses;
  };
  const lines = () => logs.lines.map((l) => JSON.parse(l) as Line).filter((l) => l.msg !== "push receiver listening");
  return { clock, logs, metrics, handled, receiver, post, flood, lines };
}

function ticket(clock: FakeClock, keys = KEYS, infoType = "component_verify_ticket"): SealedPush {
  const now = Math.floor(clock.now() / 1000);
  return sealPush(keys, messageXml({ AppId: COMPONENT, CreateTime: now, InfoType: infoType, ComponentVerifyTicket: "ticket@@@flood" }), now);
}

/** Signed with a Token that is not the platform's: what anyone without the keys can send. */
const forged = (clock: FakeClock) => ticket(clock, { ...KEYS, token: "not-the-platform-token" });

describe("a flood of refused pushes in the log", () => {
  it("logs the first refusal of each kind at once, then one line per 10 s with the exact counts by reason", async () => {
    const r = await start();
    const statuses = await r.flood(2_000, () => r.post(forged(r.clock)));
    expect(statuses.every((s) => s === 403)).toBe(true);
    expect((await r.flood(100, () => r.post(forged(r.clock), "/wp-login.php"))).every((s) => s === 404)).toBe(true);

    // 2,100 refusals so far: two lines, the first of each kind, in full.
    expect(r.lines().map((l) => [l.msg, l.result])).toEqual([
      ["push refused", "bad_signature"],
      ["push refused", "not_found"],
    ]);
    expect(r.logs.text().length).toBeLessThan(1_000);

    await r.clock.advance(10_000);
    const summaries = r.lines().filter((l) => l.refused !== undefined);
    expect(summaries).toHaveLength(1);
    expect(summaries[0]).toMatchObject({ level: 40, refused: 2_098, reasons: { bad_signature: 1_999, not_found: 99 }, remotes: ["127.0.0.1"] });
    expect(summaries[0]!.msg).toBe("pushes not handled: 2098 more in the last 10 s (bad_signature 1999, not_found 99)");
    // Every one of them is still counted, in the metrics as in the log.
    const text = await r.metrics.scrape();
    expect(text).toContain(`wxtoken_platform_pushes_total{component="${COMPONENT}",info_type="",result="bad_signature"} 2000`);
    expect(text).toContain(`wxtoken_platform_pushes_total{component="",info_type="",result="not_found"} 100`);

    // The flood goes on: still no line per request, the next summary counts them.
    await r.flood(10, () => r.post(forged(r.clock)));
    expect(r.lines()).toHaveLength(3);
    await r.clock.advance(10_000);
    expect(r.lines().at(-1)).toMatchObject({ refused: 10, reasons: { bad_signature: 10 } });
    expect(r.lines()).toHaveLength(4);

    // A quiet interval: nothing written, and the next refusal is news again, logged at once.
    await r.clock.advance(10_000);
    expect(r.lines()).toHaveLength(4);
    expect(await r.post(forged(r.clock))).toBe(403);
    expect(r.lines()).toHaveLength(5);
    expect(r.lines().at(-1)).toMatchObject({ msg: "push refused", result: "bad_signature" });
  });

  it("summarizes replays of one genuine push (duplicates) the same way, and flushes the counts at close", async () => {
    const r = await start();
    const push = ticket(r.clock);
    expect(await r.post(push)).toBe(200);
    const replays = await r.flood(500, () => r.post(push));
    expect(replays.every((s) => s === 200)).toBe(true);
    expect(r.handled).toHaveLength(1);
    expect(r.lines().map((l) => [l.msg, l.result])).toEqual([
      ["push handled", "ignored"],
      ["push handled", "duplicate"],
    ]);
    await r.receiver.close();
    expect(r.lines().at(-1)).toMatchObject({ level: 30, refused: 499, reasons: { duplicate: 499 } });
    expect(r.lines()).toHaveLength(3);
  });
});

describe("the info_type label", () => {
  it("is the InfoType for the ones wxtoken knows and `other` for anything else a signed push says", async () => {
    const r = await start();
    expect(await r.post(ticket(r.clock, KEYS, "evil<script>"))).toBe(200);
    expect(await r.post(ticket(r.clock, KEYS, "x".repeat(5_000)))).toBe(200);
    expect(await r.post(ticket(r.clock))).toBe(200);
    expect(r.handled.map((f) => f["InfoType"]!.slice(0, 12))).toEqual(["evil<script>", "xxxxxxxxxxxx", "component_verify_ticket".slice(0, 12)]);
    const text = await r.metrics.scrape();
    const series = text.split("\n").filter((l) => l.startsWith("wxtoken_platform_pushes_total{"));
    expect(series.sort()).toEqual([
      `wxtoken_platform_pushes_total{component="${COMPONENT}",info_type="component_verify_ticket",result="ignored"} 1`,
      `wxtoken_platform_pushes_total{component="${COMPONENT}",info_type="other",result="ignored"} 2`,
    ]);
    expect(text).not.toContain("evil");
    // The log names what was sent, cut to 64 characters.
    const logged = r.lines().map((l) => l.infoType);
    expect(logged).toEqual(["evil<script>", "x".repeat(64), "component_verify_ticket"]);
  });
});

/**
 * The connection caps against the file descriptor limit: read from the
 * process, the caps of the listeners in use scaled down when they do not fit
 * with the reserve, and a warning that says so; the config's defaults.
 */
import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { FakeClock } from "../../src/clock.js";
import { ConfigError, parseConfig } from "../../src/config/load.js";
import { createLogger } from "../../src/log.js";
import { descriptorLimit, fitCaps, planListeners } from "../../src/listeners/plan.js";
import { LogCapture } from "../support/harness.js";

const APPS = { apps: [{ appId: "wx1111111111111111", secretEnv: "S" }] };
const env = { S: "secret" };

function plan(raw: object, limit: number | undefined) {
  const logs = new LogCapture();
  const limits = planListeners(parseConfig({ ...APPS, ...raw }, { env }).config, createLogger({ destination: logs }), new FakeClock(), limit);
  return { limits, warnings: logs.lines.map((l) => JSON.parse(l)).filter((l) => l.level === 40) };
}

describe("the descriptor limit", () => {
  it("is the process's open-files limit, as `ulimit -n` reports it", () => {
    const shell = Number(execFileSync("sh", ["-c", "ulimit -n"], { encoding: "utf8" }).trim());
    expect(descriptorLimit()).toBe(shell);
  });
});

describe("fitting the caps", () => {
  const defaults = { grpc: 10_000, http: 5_000, receiver: 500, metrics: 20 };

  it("keeps caps that fit with the reserve", () => {
    expect(fitCaps(defaults, 1_000, 16_520)).toEqual(defaults);
    expect(fitCaps(defaults, 1_000, undefined)).toEqual(defaults);
  });

  it("scales caps that do not fit in proportion, each at least 2", () => {
    // 3,096 descriptors for 15,520 wanted: each gets 3096/15520 of its cap, rounded down.
    expect(fitCaps(defaults, 1_000, 4_096)).toEqual({ grpc: 1994, http: 997, receiver: 99, metrics: 3 });
    expect(fitCaps(defaults, 1_000, 1_100)).toEqual({ grpc: 64, http: 32, receiver: 3, metrics: 2 });
    expect(fitCaps({ grpc: 100 }, 1_000, 500)).toEqual({ grpc: 2 });
  });
});

describe("planning the listeners", () => {
  it("warns once, with the numbers, when the caps of the listeners in use exceed the limit", () => {
    const { limits, warnings } = plan({ http: {}, connections: { reservedDescriptors: 100 } }, 1_100);
    // grpc and http only (no receiver, no metrics configured): 1,000 for 15,000.
    expect(limits.caps.map((c) => [c.listener, c.max])).toEqual([["grpc", 666], ["http", 333]]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({
      descriptorLimit: 1_100,
      reservedDescriptors: 100,
      configured: { grpc: 10_000, http: 5_000 },
      applied: { grpc: 666, http: 333 },
    });
    expect(warnings[0].msg).toMatch(/ulimit -n/);
  });

  it("applies the configured caps and timeouts as they are when they fit", () => {
    const { limits, warnings } = plan(
      {
        metrics: {},
        connections: { grpc: { maxConnections: 50, firstCallSeconds: 2, idleSeconds: 30 }, metrics: { maxConnections: 4, headersSeconds: 3, idleSeconds: 1 } },
      },
      20_000,
    );
    expect(warnings).toEqual([]);
    expect(limits.caps.map((c) => [c.listener, c.max])).toEqual([["grpc", 50], ["metrics", 4]]);
    expect(limits.grpc.idleMs).toBe(30_000);
    expect({ headersMs: limits.metrics.headersMs, idleMs: limits.metrics.idleMs }).toEqual({ headersMs: 3_000, idleMs: 1_000 });
  });
});

describe("the connections section of the config", () => {
  it("has the documented defaults", () => {
    expect(parseConfig(APPS, { env }).config.connections).toEqual({
      reservedDescriptors: 1_000,
      grpc: { maxConnections: 10_000, firstCallSeconds: 10, idleSeconds: 300 },
      http: { maxConnections: 5_000, headersSeconds: 10, idleSeconds: 5 },
      receiver: { maxConnections: 500, headersSeconds: 10, idleSeconds: 5 },
      metrics: { maxConnections: 20, headersSeconds: 10, idleSeconds: 5 },
    });
  });

  it("refuses a cap under 2, and unknown keys", () => {
    expect(() => parseConfig({ ...APPS, connections: { http: { maxConnections: 1 } } }, { env })).toThrow(ConfigError);
    expect(() => parseConfig({ ...APPS, connections: { http: { maxConnections: 1 } } }, { env })).toThrow(/connections\.http\.maxConnections/);
    expect(() => parseConfig({ ...APPS, connections: { grpc: { headersSeconds: 1 } } }, { env })).toThrow(/connections\.grpc/);
  });
});

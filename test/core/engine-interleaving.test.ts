/**
 * Interleavings of the engine's own work that only a busy machine would
 * produce on its own, made deterministic here: a lock whose release is held
 * back (as a slow Redis round trip would) while the planned refresh comes due.
 */
import { describe, expect, it } from "vitest";
import { FakeClock } from "../../src/clock.js";
import type { Coordinator, SharedState } from "../../src/core/coordinator.js";
import { CredentialEngine } from "../../src/core/engine.js";
import type { Issuer } from "../../src/core/issuer.js";
import { silentLogger } from "../../src/log.js";
import { MemoryStore } from "../../src/store/memory-store.js";

/** The cluster's lock as one process sees it, with a release that waits for `open()`. */
class GatedCoordinator implements Coordinator {
  private gate: Promise<void> | undefined;
  private opener: (() => void) | undefined;
  hold(): void {
    this.gate = new Promise((resolve) => (this.opener = resolve));
  }
  open(): void {
    this.opener?.();
    this.gate = undefined;
  }
  async withLock<T>(_key: string, fn: (shared: SharedState) => Promise<T>): Promise<T> {
    const result = await fn({ token: undefined, quota: undefined });
    await this.gate;
    return result;
  }
  onToken(): () => void {
    return () => undefined;
  }
}

function countingIssuer(): Issuer & { fetches: number } {
  const issuer = {
    fetches: 0,
    id: { appId: "wx1", kind: "access_token" as const },
    endpoint: "token",
    source: "s",
    budget: "token" as const,
    sameValueUntilExpiry: false,
    hourlyLimits: [],
    fetch: async () => {
      issuer.fetches++;
      return { value: `token-${issuer.fetches}`, expiresIn: 7200 };
    },
  };
  return issuer;
}

describe("the engine's interleavings", () => {
  it("a planned refresh that comes due while a refresh that found the value good is still releasing its lock is planned again", async () => {
    const clock = new FakeClock();
    const coordinator = new GatedCoordinator();
    const issuer = countingIssuer();
    const engine = await CredentialEngine.create(
      {
        store: new MemoryStore(),
        coordinator,
        clock,
        log: silentLogger,
        random: () => 0,
        refresh: { marginMs: 300_000, jitterMs: 0 },
        retry: { baseMs: 1000, maxMs: 60_000, adminMs: 300_000, permanentMs: 1_800_000, rateLimitMs: 60_000 },
        quota: { dailyBudget: 500, forceDailyBudget: 100, minForceIntervalMs: 60_000 },
      },
      [issuer],
    );
    engine.start();
    await clock.advance(0);
    const c = engine.byKey("wx1")!;
    const v1 = c.current()!;
    expect(issuer.fetches).toBe(1);
    // A retry finds the value still good and plans its refresh again, then its lock release hangs.
    coordinator.hold();
    const retry = c.refresh("retry");
    await clock.advance(0);
    expect(c.nextRefreshAt()).toBe(v1.refreshAt);
    // The planned time comes while that refresh is still in flight: it joins it.
    await clock.advanceTo(v1.refreshAt);
    expect(issuer.fetches).toBe(1);
    coordinator.open();
    await retry;
    // The joined refresh did nothing upstream: the planned one is made again, for now
    // (the first turn lets the plan be made, the next runs it).
    await clock.advance(0);
    await clock.advance(0);
    expect(issuer.fetches).toBe(2);
    expect(c.current()!.value).toBe("token-2");
    engine.stop();
  });
});

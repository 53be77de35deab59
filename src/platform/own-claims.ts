/**
 * Claims in the platform store (one replica acts, such as exchanging an
 * authorization code), as one process holds them: once it holds a claim,
 * its own retries within the claim's time need no new one (asking the store
 * again would find its own claim and give up). At most MAX remembered.
 */
import type { Clock } from "../clock.js";
import type { PlatformStore } from "./store.js";

const MAX = 1_000;

export class OwnClaims {
  /** what -> until when this process holds it. */
  private readonly held = new Map<string, number>();

  constructor(
    private readonly store: Pick<PlatformStore, "claim">,
    private readonly platform: string,
    private readonly clock: Clock,
    private readonly ttlMs: number,
  ) {}

  /** True when this process holds the claim on `what` (it had it, or took it now); a store that cannot answer counts as yes (WeChat decides). */
  async take(what: string): Promise<boolean> {
    const now = this.clock.now();
    if ((this.held.get(what) ?? 0) > now) return true;
    const mine = await this.store.claim(this.platform, what, this.ttlMs).catch(() => true);
    if (!mine) return false;
    this.held.delete(what);
    this.held.set(what, now + this.ttlMs);
    // Kept in the order taken: the expired (or, past MAX, the oldest) lead.
    for (const [old, until] of this.held) {
      if (until > now && this.held.size <= MAX) break;
      this.held.delete(old);
    }
    return true;
  }

  /** Done with it (the code was exchanged or dropped): a later claim asks the store again. */
  forget(what: string): void {
    this.held.delete(what);
  }
}

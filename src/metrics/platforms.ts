/**
 * The Open Platforms' gauges, read at scrape time: one series per platform
 * (its component appid, from the config) and per status or state, never one
 * per authorizer, so 100,000 accounts make no more series than one.
 */
import { Gauge, type Registry } from "prom-client";
import type { CredentialEngine } from "../core/engine.js";
import type { OpenPlatform } from "../openplatform/platform.js";
import { AUTHORIZER_STATUSES } from "../openplatform/store.js";

export interface PlatformSources {
  platforms(): Iterable<OpenPlatform>;
  engine(): CredentialEngine | undefined;
  now(): number;
}

export function registerPlatformMetrics(registry: Registry, from: PlatformSources): void {
  const registers = [registry];
  new Gauge({
    name: "wxtoken_platform_authorizers",
    help: "Authorizers of each Open Platform by status (needs_reauthorization: the account must authorize again)",
    labelNames: ["component", "status"],
    registers,
    collect() {
      this.reset();
      for (const p of from.platforms()) {
        for (const st of AUTHORIZER_STATUSES) this.set({ component: p.componentAppId, status: st }, p.authorizerCount(st));
      }
    },
  });
  new Gauge({
    name: "wxtoken_platform_credentials",
    help: "Credentials of each Open Platform's accounts (tokens and tickets) by state: valid (a value is held), failing (the last refresh failed), none (no valid value: not fetched yet, idle on demand, or expired)",
    labelNames: ["component", "state"],
    registers,
    collect() {
      this.reset();
      const e = from.engine();
      if (!e) return;
      for (const p of from.platforms()) {
        let valid = 0;
        let failing = 0;
        let none = 0;
        for (const c of e.inGroup(p.group)) {
          if (c.lastError()) failing++;
          if (c.current()) valid++;
          else none++;
        }
        this.set({ component: p.componentAppId, state: "valid" }, valid);
        this.set({ component: p.componentAppId, state: "failing" }, failing);
        this.set({ component: p.componentAppId, state: "none" }, none);
      }
    },
  });
  new Gauge({
    name: "wxtoken_platform_sync_progress",
    help: "Accounts of WeChat's authorizer list applied by the last (or running) sync, and the list's length (a restore of 100,000 shows its progress here)",
    labelNames: ["component", "of"],
    registers,
    collect() {
      this.reset();
      for (const p of from.platforms()) {
        const progress = p.progress;
        if (!progress) continue;
        this.set({ component: p.componentAppId, of: "applied" }, progress.done);
        this.set({ component: p.componentAppId, of: "listed" }, progress.total);
      }
    },
  });
  new Gauge({
    name: "wxtoken_platform_verify_ticket_remaining_seconds",
    help: "Seconds until the newest component_verify_ticket expires (0 when none is held); WeChat pushes one every 10 minutes",
    labelNames: ["component"],
    registers,
    collect() {
      this.reset();
      for (const p of from.platforms()) {
        const t = p.heldTicket();
        this.set({ component: p.componentAppId }, t ? Math.max(0, (t.expiresAt - from.now()) / 1000) : 0);
      }
    },
  });
}

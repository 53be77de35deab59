/**
 * The pushed-ticket platforms' gauges (Open Platforms and WeCom suites), read
 * at scrape time: one series per platform (its component appid or suite id,
 * from the config; the label keeps its first name, "component") and per
 * status or state, never one per tenant, so 100,000 accounts make no more
 * series than one.
 */
import { Gauge, type Registry } from "prom-client";
import type { CredentialEngine } from "../core/engine.js";
import type { PushedPlatform } from "../platform/pushed-platform.js";
import { AUTHORIZER_STATUSES } from "../platform/store.js";

export interface PlatformSources {
  platforms(): Iterable<PushedPlatform>;
  engine(): CredentialEngine | undefined;
  now(): number;
}

export function registerPlatformMetrics(registry: Registry, from: PlatformSources): void {
  const registers = [registry];
  new Gauge({
    name: "wxtoken_platform_authorizers",
    help: "Tenants of each platform by status: an Open Platform's authorizers, a WeCom suite's installed corps (needs_reauthorization: the account must authorize, or the corp install, again)",
    labelNames: ["component", "status"],
    registers,
    collect() {
      this.reset();
      for (const p of from.platforms()) {
        for (const st of AUTHORIZER_STATUSES) this.set({ component: p.id, status: st }, p.authorizerCount(st));
      }
    },
  });
  new Gauge({
    name: "wxtoken_platform_credentials",
    help: "Credentials of each platform's tenants (tokens and tickets) by state: valid (a value is held), failing (the last refresh failed), none (no valid value: not fetched yet, idle on demand, or expired)",
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
        this.set({ component: p.id, state: "valid" }, valid);
        this.set({ component: p.id, state: "failing" }, failing);
        this.set({ component: p.id, state: "none" }, none);
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
        this.set({ component: p.id, of: "applied" }, progress.done);
        this.set({ component: p.id, of: "listed" }, progress.total);
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
        this.set({ component: p.id }, t ? Math.max(0, (t.expiresAt - from.now()) / 1000) : 0);
      }
    },
  });
  new Gauge({
    name: "wxtoken_platform_ticket_age_seconds",
    help: "Seconds since the newest pushed ticket (component_verify_ticket, suite_ticket) was received; -1 when none is held. WeChat pushes one every 10 minutes: older than 20 minutes means pushes are not arriving (a WeCom suite_ticket lives only 30)",
    labelNames: ["platform", "family"],
    registers,
    collect() {
      this.reset();
      for (const p of from.platforms()) {
        const t = p.heldTicket();
        this.set({ platform: p.id, family: p.facts.family }, t ? Math.max(0, (from.now() - t.receivedAt) / 1000) : -1);
      }
    },
  });
}

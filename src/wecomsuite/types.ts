/**
 * What the WeCom suite family is (the configured entries themselves are the
 * config's: src/config/platforms.ts).
 */
import type { FamilyFacts } from "../platform/pushed-platform.js";

/** The WeCom suite family: a suite_ticket pushed every 10 minutes, valid only 30, and no API asks for another. */
export const WECOM_SUITE: FamilyFacts = {
  family: "wecom_suite",
  title: "WeCom suite",
  ticketName: "suite_ticket",
  ticketLifetimeMs: 30 * 60_000,
  pushIntervalMs: 10 * 60_000,
};

/** The InfoTypes a suite acts on (docs/wecom-providers.md); any other is answered `success` and not handled. */
export const SUITE_INFO_TYPES: ReadonlySet<string> = new Set(["suite_ticket", "create_auth", "change_auth", "cancel_auth", "reset_permanent_code"]);

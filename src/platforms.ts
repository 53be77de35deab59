/**
 * The families of pushed-ticket platforms, as one table: what each takes
 * from the loaded config and how one of its platforms is made. The server
 * (wxtoken.ts) builds, loads, serves, starts and stops every platform
 * through the PushedPlatform interface; adding a family is one entry here.
 */
import type { Clock } from "./clock.js";
import type { LoadedConfig } from "./config/load.js";
import type { CredentialEngine } from "./core/engine.js";
import type { Issuer } from "./core/issuer.js";
import type { HourlyLimit } from "./core/quota-guard.js";
import type { Logger } from "./log.js";
import { OpenPlatform } from "./openplatform/platform.js";
import type { PlatformStore } from "./platform/store.js";
import type { PlatformEntry, SuiteEntry } from "./config/platforms.js";
import type { PlatformFamily, PushedPlatform } from "./platform/pushed-platform.js";
import type { WeChatClient } from "./upstream/wechat-client.js";
import { SuitePlatform } from "./wecomsuite/suite.js";

/** What every family's platforms are built with. */
export interface PlatformDeps {
  store: PlatformStore;
  clock: Clock;
  log: Logger;
  /** The Official Account / Open Platform upstream (api.weixin.qq.com). */
  official: WeChatClient;
  /** The WeCom upstream (qyapi.weixin.qq.com). */
  wecom: WeChatClient;
  engine: CredentialEngine;
  /** Wraps an issuer so that its upstream calls are counted (metrics), or hands it back. */
  meter(issuer: Issuer, group?: string): Issuer;
  /** The hourly ticket limits of a corp's app: per app, and per corp (shared with the corp's self-built apps). */
  ticketLimits(corpId: string, appKey: string): readonly HourlyLimit[];
}

interface Family<E> {
  readonly family: PlatformFamily;
  /** The config section that configures it, for messages. */
  readonly section: string;
  entries(loaded: LoadedConfig): readonly E[];
  create(entry: E, deps: PlatformDeps): PushedPlatform;
}

const openPlatforms: Family<PlatformEntry> = {
  family: "open_platform",
  section: "openPlatform",
  entries: (loaded) => loaded.platforms,
  create: (entry, d) => new OpenPlatform(entry, { client: d.official, store: d.store, clock: d.clock, log: d.log, host: { engine: d.engine, meter: d.meter } }),
};

const wecomSuites: Family<SuiteEntry> = {
  family: "wecom_suite",
  section: "wecomProviders",
  entries: (loaded) => loaded.suites,
  create: (entry, d) =>
    new SuitePlatform(entry, { client: d.wecom, store: d.store, clock: d.clock, log: d.log, host: { engine: d.engine, meter: d.meter, ticketLimits: d.ticketLimits } }),
};

const FAMILIES: readonly Family<never>[] = [openPlatforms, wecomSuites] as readonly Family<unknown>[] as readonly Family<never>[];

/** The config sections of the families the loaded config uses (for the store check's message). */
export function configuredSections(loaded: LoadedConfig): string[] {
  return FAMILIES.filter((f) => f.entries(loaded).length > 0).map((f) => f.section);
}

/** Every configured platform, by id, made and loaded (its store read), in the table's order. */
export async function buildPlatforms(loaded: LoadedConfig, deps: PlatformDeps): Promise<Map<string, PushedPlatform>> {
  const platforms = new Map<string, PushedPlatform>();
  for (const family of FAMILIES) {
    for (const entry of family.entries(loaded)) {
      const platform = family.create(entry, deps);
      await platform.load();
      platform.serveAll();
      platforms.set(platform.id, platform);
    }
  }
  return platforms;
}

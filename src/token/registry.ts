import type { Clock } from "../clock.js";
import type { Logger } from "../log.js";
import type { TokenStore } from "../store/store.js";
import type { AppCredentials, TokenUpstream } from "../upstream/types.js";
import { AppToken } from "./app-token.js";
import { UnknownAppError } from "./errors.js";
import type { QuotaPolicy } from "./quota-guard.js";
import type { Random, RefreshPolicy, RetryPolicy } from "./schedule.js";

export interface RegistryOptions {
  apps: AppCredentials[];
  upstream: TokenUpstream;
  store: TokenStore;
  clock: Clock;
  refresh: RefreshPolicy;
  retry: RetryPolicy;
  quota: QuotaPolicy;
  log: Logger;
  random?: Random;
}

/**
 * stable_token only issues the next token in the last 5 minutes of the current
 * one; refreshing earlier just returns the same token.
 */
const STABLE_TOKEN_MAX_MARGIN_MS = 240_000;

/** Every configured app's token, by app id. */
export class TokenRegistry {
  private readonly apps = new Map<string, AppToken>();

  private constructor(private readonly opts: RegistryOptions) {}

  /** Loads the store, then creates (but does not start) each app's refresher. */
  static async create(opts: RegistryOptions): Promise<TokenRegistry> {
    const registry = new TokenRegistry(opts);
    const stored = await opts.store.load();
    for (const app of opts.apps) {
      const refresh =
        app.endpoint === "stable_token"
          ? { ...opts.refresh, marginMs: Math.min(opts.refresh.marginMs, STABLE_TOKEN_MAX_MARGIN_MS) }
          : opts.refresh;
      registry.apps.set(
        app.appId,
        new AppToken({ ...opts, app, refresh, stored: stored.get(app.appId) }),
      );
    }
    return registry;
  }

  start(): void {
    for (const app of this.apps.values()) app.start();
  }

  stop(): void {
    for (const app of this.apps.values()) app.stop();
  }

  /** The app's token state; throws UnknownAppError for an app not configured. */
  app(appId: string): AppToken {
    const app = this.apps.get(appId);
    if (!app) throw new UnknownAppError(appId);
    return app;
  }

  has(appId: string): boolean {
    return this.apps.has(appId);
  }

  all(): AppToken[] {
    return [...this.apps.values()];
  }
}

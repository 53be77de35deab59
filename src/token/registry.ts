import type { Clock } from "../clock.js";
import type { Logger } from "../log.js";
import type { StoredToken, TokenStore } from "../store/store.js";
import type { AppCredentials, TokenUpstream } from "../upstream/types.js";
import { AppToken } from "./app-token.js";
import type { Coordinator } from "./coordinator.js";
import { toStored } from "./token.js";
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
  /** Replicas sharing a store (Redis): cluster-wide refresh lock, shared token, pushed updates. */
  coordinator?: Coordinator;
}

/**
 * stable_token only issues the next token in the last 5 minutes of the current
 * one; refreshing earlier just returns the same token.
 */
const STABLE_TOKEN_MAX_MARGIN_MS = 240_000;

export interface ReconcileResult {
  added: string[];
  removed: string[];
  /** Apps whose secret or endpoint changed. */
  updated: string[];
}

/** Every configured app's token, by app id. */
export class TokenRegistry {
  private readonly apps = new Map<string, AppToken>();
  private started = false;

  private constructor(
    private readonly opts: RegistryOptions,
    /** What the store held at start, for apps added later by a reload. */
    private readonly stored: Map<string, StoredToken>,
  ) {}

  /** Loads the store, then creates (but does not start) each app's refresher. */
  static async create(opts: RegistryOptions): Promise<TokenRegistry> {
    const registry = new TokenRegistry(opts, await opts.store.load());
    for (const app of opts.apps) registry.apps.set(app.appId, registry.make(app));
    // A token another replica obtained reaches this one's callers and watchers at once.
    opts.coordinator?.onToken((token) => registry.apps.get(token.appId)?.adopt(token));
    return registry;
  }

  start(): void {
    this.started = true;
    for (const app of this.apps.values()) app.start();
  }

  /**
   * Applies a new list of apps (a config reload): new apps start at once,
   * removed ones stop, and a changed secret or endpoint is used from the next
   * upstream call on, without losing the current token.
   */
  reconcile(apps: AppCredentials[]): ReconcileResult {
    const result: ReconcileResult = { added: [], removed: [], updated: [] };
    const wanted = new Map(apps.map((a) => [a.appId, a]));
    for (const [id, token] of this.apps) {
      if (wanted.has(id)) continue;
      token.stop("removed");
      // Should a later reload add it back, it starts from here, not from what
      // the store held at startup (an older token WeChat may have replaced).
      const latest = token.latest();
      if (latest) this.stored.set(id, { ...toStored(latest), version: token.highestVersion() });
      this.apps.delete(id);
      result.removed.push(id);
    }
    for (const app of apps) {
      const existing = this.apps.get(app.appId);
      if (!existing) {
        const token = this.make(app);
        this.apps.set(app.appId, token);
        if (this.started) token.start();
        result.added.push(app.appId);
      } else if (existing.updateCredentials(app, this.refreshPolicy(app))) {
        result.updated.push(app.appId);
      }
    }
    return result;
  }

  private make(app: AppCredentials): AppToken {
    return new AppToken({ ...this.opts, app, refresh: this.refreshPolicy(app), stored: this.stored.get(app.appId) });
  }

  private refreshPolicy(app: AppCredentials): RefreshPolicy {
    const r = this.opts.refresh;
    return app.endpoint === "stable_token" ? { ...r, marginMs: Math.min(r.marginMs, STABLE_TOKEN_MAX_MARGIN_MS) } : r;
  }

  stop(): void {
    for (const app of this.apps.values()) app.stop();
  }

  /** After stop(): lets fetches in flight land (up to ms), so the store gets what WeChat just issued. */
  async settle(ms: number): Promise<void> {
    await Promise.all(this.all().map((app) => app.settle(ms)));
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

/**
 * What several wxtoken replicas share so that, together, they behave like one
 * central server: one refresh lock per app (one upstream call per refresh
 * across the cluster, however many replicas notice it is due), the current
 * token with its version (one lineage, whichever replica serves it), the
 * quota count, and a push of each new token to every replica (so their
 * WatchToken subscribers hear of it at once).
 *
 * Implemented by the Redis store (src/store/redis-store.ts), keyed by credential key. A single server
 * runs without one.
 */
import { WxTokenError } from "../errors.js";
import type { StoredCredential, StoredQuota } from "./store.js";

/** What the lock holder reads before it decides to call WeChat. */
export interface SharedState {
  /** The cluster's current value, if any replica ever published one. */
  token: StoredCredential | undefined;
  /** The cluster's quota count for the credential. */
  quota: StoredQuota | undefined;
}

export interface Coordinator {
  /**
   * Runs fn while this replica holds the app's refresh lock, with the shared
   * state read after the lock was taken. Waits while another replica holds
   * it. Rejects with CoordinationError when the shared store is unreachable
   * or the wait is too long: then no upstream call is made (a replica on its
   * own would overwrite the others' token).
   */
  withLock<T>(key: string, fn: (shared: SharedState) => Promise<T>): Promise<T>;
  /** Tokens other replicas published (and, after a reconnect, what was missed). */
  onToken(listener: (credential: StoredCredential) => void): () => void;
}

export function isCoordinator(x: object): x is Coordinator {
  return typeof (x as Partial<Coordinator>).withLock === "function" && typeof (x as Partial<Coordinator>).onToken === "function";
}

/** The shared store could not be used: retried like a transient upstream failure. */
export class CoordinationError extends WxTokenError {
  override readonly name = "CoordinationError";
  readonly kind = "transient" as const;
  readonly reason = "SHARED_STORE_UNAVAILABLE";
  readonly category = "unavailable";
}

/**
 * The quota counts in Redis: <prefix>quota:<credential key> (and
 * quota:hour:<corp>[/<agent>] for WeCom's hourly ticket limits), the JSON of
 * a StoredQuota kept two days. Counts are merged upwards in a script, never
 * lowered, and held here as last read or written, for quota(key).
 */
import { isStoredQuota, type StoredQuota } from "../core/store.js";
import { parsed } from "./parsed.js";
import type { RedisClients } from "./redis-clients.js";

export const asQuota = (v: unknown) => (isStoredQuota(v) ? v : undefined);

/**
 * Merges a quota count into the shared one, never downwards: the same day
 * keeps the larger of each count, an older day never replaces a newer one
 * (a stale or replayed write, a replica that missed a Redis data loss), and
 * lastForcedAt keeps the later time. Returns what is stored.
 */
const SAVE_QUOTA = `
local q = cjson.decode(ARGV[1])
local current = redis.call('GET', KEYS[1])
if current then
  local ok, held = pcall(cjson.decode, current)
  if ok and type(held) == 'table' and tonumber(held.day) then
    local forcedAt = math.max(tonumber(q.lastForcedAt) or 0, tonumber(held.lastForcedAt) or 0)
    if tonumber(held.day) > q.day then
      q = held
    elseif tonumber(held.day) == q.day then
      q.used = math.max(q.used, tonumber(held.used) or 0)
      q.forced = math.max(q.forced, tonumber(held.forced) or 0)
    end
    if forcedAt > 0 then q.lastForcedAt = forcedAt end
  end
end
local merged = cjson.encode(q)
redis.call('SET', KEYS[1], merged, 'EX', ARGV[2])
return merged`;

const QUOTA_TTL_SECONDS = 2 * 86_400;

export class RedisQuotas {
  private readonly held = new Map<string, StoredQuota>();

  constructor(private readonly clients: RedisClients) {}

  /** Reads every shared count. */
  async load(): Promise<void> {
    for (const [key, q] of await this.clients.readAll("quota", asQuota)) this.held.set(key, q);
  }

  quota(key: string): StoredQuota | undefined {
    return this.held.get(key);
  }

  /** A count read from Redis (under the credential's lock). */
  remember(key: string, quota: StoredQuota): void {
    this.held.set(key, quota);
  }

  save(key: string, quota: StoredQuota): void {
    this.held.set(key, { ...quota });
    // Written under the credential's lock after reading the shared count, but
    // merged upwards all the same: a count must never go down (see SAVE_QUOTA).
    const write = this.clients.redis.eval(SAVE_QUOTA, 1, this.clients.key("quota", key), JSON.stringify(quota), QUOTA_TTL_SECONDS).then((merged) => {
      const q = parsed(String(merged), asQuota);
      if (q) this.held.set(key, q);
    });
    this.clients.track(write, "save quota");
  }
}

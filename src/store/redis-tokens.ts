/**
 * The credentials' values in Redis: <prefix>token:<credential key>, the JSON
 * of a StoredCredential with no TTL, saved only forward (a slow replica must
 * not put back an older version) and published on <prefix>tokens in the same
 * script, so every replica's watchers hear of it at once.
 */
import { toStoredCredential, type StoredCredential } from "../core/store.js";
import type { RedisClients } from "./redis-clients.js";
import { RedisChannel } from "./redis-pubsub.js";

/** Saves a token unless Redis holds a newer version (a slow replica must not go back), and tells every replica. */
const SAVE_TOKEN = `
local current = redis.call('GET', KEYS[1])
if current then
  local ok, held = pcall(cjson.decode, current)
  if ok and type(held) == 'table' and tonumber(held.version) and tonumber(held.version) > tonumber(ARGV[2]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('PUBLISH', KEYS[2], ARGV[1])
return 1`;

export class RedisTokens {
  /** Each token any replica saved (this one included). */
  readonly channel: RedisChannel<StoredCredential>;

  constructor(private readonly clients: RedisClients) {
    this.channel = new RedisChannel(clients.key("tokens"), toStoredCredential);
  }

  /** Every shared token, by credential key (one stored under another key is skipped). */
  async load(): Promise<Map<string, StoredCredential>> {
    const tokens = new Map<string, StoredCredential>();
    for (const [key, t] of await this.clients.readAll("token", toStoredCredential)) if (t.key === key) tokens.set(key, t);
    return tokens;
  }

  save(token: StoredCredential): void {
    this.clients.track(
      this.clients.redis.eval(SAVE_TOKEN, 2, this.clients.key("token", token.key), this.channel.key, JSON.stringify(token), token.version),
      "save token",
    );
  }

  /** After a reconnect: every shared token to the listeners (what was published while we could not hear it). */
  async resync(): Promise<void> {
    try {
      for (const t of (await this.clients.readAll("token", toStoredCredential)).values()) this.channel.emit(t);
    } catch {
      // The next reconnect tries again.
    }
  }
}

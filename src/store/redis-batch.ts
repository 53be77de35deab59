/**
 * The Redis store's reads and writes of many records at once (a platform of
 * 100,000 accounts): SCAN with a large COUNT and MGETs in chunks, all
 * pipelined on the one connection; a hash read by HSCAN or HMGET in chunks
 * (no single reply of tens of megabytes, no command blocking Redis for long);
 * a batch of authorizations as one script per chunk, pipelined, then one
 * change note for the whole batch.
 */
import type { Redis } from "ioredis";

/** Keys, fields or records per command: small enough that no command holds Redis for more than a few ms. */
export const CHUNK = 1000;

/**
 * SAVE_AUTHORIZER (redis-platform-scripts.ts) for each record of a chunk, in
 * order: ARGV holds appid, JSON, authorizedAt for each. Returns 1 (stored)
 * or 0 (refused) per record. KEYS[1] the authorizers hash, KEYS[2] the
 * de-authorizations. Publishes nothing: the caller sends one note for the batch.
 */
const SAVE_AUTHORIZERS = `
local out = {}
for i = 1, #ARGV, 3 do
  local appId, record, at = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])
  local stored = 1
  local gone = tonumber(redis.call('HGET', KEYS[2], appId))
  if gone and gone >= at then stored = 0 end
  if stored == 1 then
    local current = redis.call('HGET', KEYS[1], appId)
    if current then
      local ok, held = pcall(cjson.decode, current)
      if ok and type(held) == 'table' and tonumber(held.authorizedAt) and tonumber(held.authorizedAt) > at then stored = 0 end
    end
  end
  if stored == 1 then
    redis.call('HSET', KEYS[1], appId, record)
    redis.call('HDEL', KEYS[2], appId)
  end
  out[#out + 1] = stored
end
return out`;

function chunks<T>(items: readonly T[], size = CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Every value under `prefix` (by the key's rest): SCAN COUNT 10,000, each page's MGETs sent without waiting for the next page. */
export async function scanValues(redis: Redis, prefix: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const reads: Promise<void>[] = [];
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 10 * CHUNK);
    cursor = next;
    for (const chunk of chunks(keys)) {
      reads.push(
        redis.mget(...chunk).then((values) =>
          chunk.forEach((k, i) => {
            const v = values[i];
            if (v !== null && v !== undefined) out.set(k.slice(prefix.length), v);
          }),
        ),
      );
    }
  } while (cursor !== "0");
  await Promise.all(reads);
  return out;
}

/** Every field of a hash, by HSCAN in chunks (a field changed meanwhile comes with its old or new value; its change note follows). */
export async function hashEntries(redis: Redis, key: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let cursor = "0";
  do {
    const [next, flat] = await redis.hscan(key, cursor, "COUNT", CHUNK);
    cursor = next;
    for (let i = 0; i + 1 < flat.length; i += 2) out.set(flat[i]!, flat[i + 1]!);
  } while (cursor !== "0");
  return out;
}

/** The fields of a hash that are there, of those named: HMGETs in chunks, pipelined. */
export async function hashFields(redis: Redis, key: string, fields: readonly string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  await Promise.all(
    chunks([...new Set(fields)]).map((chunk) =>
      redis.hmget(key, ...chunk).then((values) =>
        chunk.forEach((f, i) => {
          const v = values[i];
          if (v !== null && v !== undefined) out.set(f, v);
        }),
      ),
    ),
  );
  return out;
}

export interface AuthorizerBatch {
  authorizersKey: string;
  deauthorizedKey: string;
  /** appid, JSON of the StoredAuthorizer, authorizedAt; in the caller's order. */
  records: readonly { appId: string; json: string; authorizedAt: number }[];
}

/**
 * Runs the batch (one script per chunk, all in one pipeline): whether each
 * record was stored. Chunks before a failed one stay stored: `failed` says
 * which records are unknown (their chunk did not run or did not answer).
 */
export async function saveAuthorizerBatch(redis: Redis, batch: AuthorizerBatch): Promise<{ stored: boolean[]; failed?: Error }> {
  const parts = chunks(batch.records);
  const pipeline = redis.pipeline();
  for (const part of parts) {
    pipeline.eval(SAVE_AUTHORIZERS, 2, batch.authorizersKey, batch.deauthorizedKey, ...part.flatMap((r) => [r.appId, r.json, r.authorizedAt]));
  }
  const answers = (await pipeline.exec()) ?? [];
  const stored: boolean[] = [];
  let failed: Error | undefined;
  parts.forEach((part, i) => {
    const [err, result] = answers[i] ?? [new Error("no answer"), undefined];
    failed ??= err ?? undefined;
    const flags = err ? [] : (result as number[]);
    part.forEach((_, j) => stored.push(flags[j] === 1));
  });
  return { stored, failed };
}

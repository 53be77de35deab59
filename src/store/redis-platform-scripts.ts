/**
 * The Lua scripts of the Redis platform store (redis-platform.ts). Each
 * change to a platform's records is one script, so that its check (is a
 * newer ticket, a later authorization, a de-authorization held?), its write
 * and its change note are atomic however many replicas receive pushes at
 * once, and WeChat's retries and out-of-order pushes cannot put an older
 * record back. The batch of authorizations is redis-batch.ts's.
 */

/**
 * cjson.encode for an authorizer a script changed: Redis's cjson writes an
 * empty array as {} (it cannot tell it from an empty object), and agents
 * must read back as an array. The pattern matches only the key itself: the
 * same text inside a string value has its quotes escaped.
 */
const ENCODE_AUTHORIZER = `
local function encodeAuthorizer(a)
  local text = cjson.encode(a)
  if type(a.agents) == 'table' and next(a.agents) == nil then text = (string.gsub(text, '"agents":{}', '"agents":[]', 1)) end
  return text
end`;

/** Stores a ticket unless one created later is held; kept an hour past its expiry; tells every replica. */
export const SAVE_TICKET = `
local current = redis.call('GET', KEYS[1])
if current then
  local ok, held = pcall(cjson.decode, current)
  if ok and type(held) == 'table' and tonumber(held.createdAt) and tonumber(held.createdAt) > tonumber(ARGV[2]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
redis.call('PUBLISH', KEYS[2], ARGV[4])
return 1`;

/** Changes an authorizer (its secret, status, agents) only if its stored secret is still the expected one; tells every replica. */
export const UPDATE_AUTHORIZER = `${ENCODE_AUTHORIZER}
local current = redis.call('HGET', KEYS[1], ARGV[1])
if not current then return 0 end
local ok, held = pcall(cjson.decode, current)
if not ok or type(held) ~= 'table' or held.refreshToken ~= ARGV[2] then return 0 end
local change = cjson.decode(ARGV[3])
if change.refreshToken then held.refreshToken = change.refreshToken end
if change.status then held.status = change.status end
if change.agents then held.agents = change.agents end
held.updatedAt = change.updatedAt
redis.call('HSET', KEYS[1], ARGV[1], encodeAuthorizer(held))
redis.call('PUBLISH', KEYS[2], ARGV[4])
return 1`;

/**
 * An authorizer added or replaced (no TTL: refresh tokens never expire)
 * unless a de-authorization at or after it (KEYS[3], appid -> ms) or a later
 * authorization is held; a stored one clears its de-authorization. Tells every replica.
 */
export const SAVE_AUTHORIZER = `
local at = tonumber(ARGV[4])
local gone = tonumber(redis.call('HGET', KEYS[3], ARGV[1]))
if gone and gone >= at then return 0 end
local current = redis.call('HGET', KEYS[1], ARGV[1])
if current then
  local ok, held = pcall(cjson.decode, current)
  if ok and type(held) == 'table' and tonumber(held.authorizedAt) and tonumber(held.authorizedAt) > at then return 0 end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('PUBLISH', KEYS[2], ARGV[3])
return 1`;

/**
 * A de-authorization at ARGV[2] (ms): unless an authorization made later is
 * held, drops the authorizer and its stored tokens (KEYS[4..]) and remembers
 * the time (KEYS[3]). Returns 1 removed, 0 not held, -1 a newer one held.
 */
export const REMOVE_AUTHORIZER = `
local at = tonumber(ARGV[2])
local current = redis.call('HGET', KEYS[1], ARGV[1])
if current then
  local ok, held = pcall(cjson.decode, current)
  if ok and type(held) == 'table' and tonumber(held.authorizedAt) and tonumber(held.authorizedAt) > at then return -1 end
end
local gone = tonumber(redis.call('HGET', KEYS[3], ARGV[1]))
if not gone or gone < at then redis.call('HSET', KEYS[3], ARGV[1], ARGV[2]) end
for i = 4, #KEYS do redis.call('DEL', KEYS[i]) end
local n = redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('PUBLISH', KEYS[2], ARGV[3])
return n`;

/**
 * Brings push times after ARGV[1] back to ARGV[2] (see PlatformStore.repairFutureTimes):
 * the ticket's createdAt (its TTL kept), each authorizer's authorizedAt and
 * updatedAt, each de-authorization time. Returns {ticket 0/1, appids, appids};
 * tells every replica ("all") when anything changed.
 */
export const REPAIR_FUTURE_TIMES = `${ENCODE_AUTHORIZER}
local limit = tonumber(ARGV[1])
local now = tonumber(ARGV[2])
local ticket = 0
local authorized = {}
local deauthorized = {}
local current = redis.call('GET', KEYS[1])
if current then
  local ok, t = pcall(cjson.decode, current)
  if ok and type(t) == 'table' and tonumber(t.createdAt) and tonumber(t.createdAt) > limit then
    t.createdAt = now
    local ttl = redis.call('PTTL', KEYS[1])
    if ttl > 0 then redis.call('SET', KEYS[1], cjson.encode(t), 'PX', ttl) else redis.call('SET', KEYS[1], cjson.encode(t)) end
    ticket = 1
  end
end
local held = redis.call('HGETALL', KEYS[2])
for i = 1, #held, 2 do
  local ok, a = pcall(cjson.decode, held[i + 1])
  if ok and type(a) == 'table' then
    local changed = false
    for _, field in ipairs({'authorizedAt', 'updatedAt'}) do
      if tonumber(a[field]) and tonumber(a[field]) > limit then
        a[field] = now
        changed = true
      end
    end
    if changed then
      redis.call('HSET', KEYS[2], held[i], encodeAuthorizer(a))
      table.insert(authorized, held[i])
    end
  end
end
local gone = redis.call('HGETALL', KEYS[3])
for i = 1, #gone, 2 do
  if tonumber(gone[i + 1]) and tonumber(gone[i + 1]) > limit then
    redis.call('HSET', KEYS[3], gone[i], ARGV[2])
    table.insert(deauthorized, gone[i])
  end
end
if ticket == 1 or #authorized > 0 or #deauthorized > 0 then redis.call('PUBLISH', KEYS[4], ARGV[3]) end
return {ticket, authorized, deauthorized}`;

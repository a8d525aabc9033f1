"""The seat board's Lua scripts: each request is one script, atomic on the Redis server.

Keys of one showtime share the hash tag `{<showtime_id>}` (one Cluster slot):
    KEYS[1] seats:{st}:board     hash seat -> state, plus `_ready` = the version once installed
    KEYS[2] seats:{st}:version   the version counter
    KEYS[3] seats:{st}:log       sorted set of the last changes (score = version)
and, for the hold scripts,
    KEYS[4] holds:{st}:index     sorted set of held seats, score = expiry (ms)
    KEYS[5] holds:{st}:owner:<o> sorted set of one owner's held seats (for the cap)
    KEYS[6..] hold:{st}:<seat>   value = owner, PX = the hold's TTL: the holds' truth
ARGV[1] owner, ARGV[2] TTL (ms), ARGV[3] cap, ARGV[4] feed channel, ARGV[5] log length,
ARGV[6..] the seat ids (ARGV[i] is the seat of KEYS[i]).
"""

from __future__ import annotations

# Shared by every script: the clock, board writes (tombstones before the install), and the
# version bump that logs and announces a change. A change message is
# {"v": <version>, "s": {<seat>: <state>, ...}}; the version is taken as Redis's own decimal
# string (Lua would print a 16-digit number in exponent form).
_PRELUDE = """
local BOARD, VERSION, LOG = KEYS[1], KEYS[2], KEYS[3]
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function is_ready()
  return redis.call('HEXISTS', BOARD, '_ready') == 1
end
local function put(ready, seat, state)
  if state ~= '' then
    redis.call('HSET', BOARD, seat, state)
  elseif ready then
    redis.call('HDEL', BOARD, seat)
  else
    redis.call('HSET', BOARD, seat, 'F')
  end
end
-- Sold: confirmed ('B'), or booked and unpaid until a time ('P<ms>'; past it the seat is free).
local function is_sold(state, now)
  if state == 'B' then return true end
  if not state or string.sub(state, 1, 1) ~= 'P' then return false end
  return tonumber(string.sub(state, 2)) > now
end
local function hold_of(state)
  if not state or string.sub(state, 1, 1) ~= 'H' then return nil, nil end
  local colon = string.find(state, ':', 2, true)
  return tonumber(string.sub(state, 2, colon - 1)), string.sub(state, colon + 1)
end
local function record(ready, changes, n, channel, log_max, now)
  if not ready and redis.call('TTL', BOARD) == -1 then
    -- A board collecting changes before its install does not outlive an hour unread.
    redis.call('EXPIRE', BOARD, 3600)
  end
  if n == 0 then return end
  if redis.call('EXISTS', VERSION) == 0 then
    -- Versions start from the clock, so one issued before a Redis restart is never reused.
    redis.call('SET', VERSION, string.format('%d', now * 1000))
  end
  local v = redis.call('INCR', VERSION)
  local vs = redis.call('GET', VERSION)
  redis.call('EXPIRE', VERSION, 604800)
  if ready then
    -- An installed board carries its version, so one HGET (or HGETALL) reads both.
    redis.call('HSET', BOARD, '_ready', vs)
  end
  local msg = '{"v":' .. vs .. ',"s":' .. cjson.encode(changes) .. '}'
  redis.call('ZADD', LOG, v, msg)
  redis.call('ZREMRANGEBYRANK', LOG, 0, -(log_max + 1))
  redis.call('EXPIRE', LOG, 604800)
  redis.call('PUBLISH', channel, msg)
end
local function take_lapsed(ready, index, now, changes, n)
  local lapsed = redis.call('ZRANGEBYSCORE', index, '-inf', now, 'LIMIT', 0, 200)
  for _, seat in ipairs(lapsed) do
    local expires = hold_of(redis.call('HGET', BOARD, seat))
    if expires and expires <= now then
      put(ready, seat, '')
      changes[seat] = ''
      n = n + 1
    end
    redis.call('ZREM', index, seat)
  end
  return n
end
"""

# Returns {1, owner's count, ready, acquired...} held; {0, ready, taken...} taken (by another's
# hold, or sold when the board is ready); {2, owner's count} over the cap.
HOLD = (
    _PRELUDE
    + """
local owner, ttl, limit = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local channel, log_max = ARGV[4], tonumber(ARGV[5])
local INDEX, OWNED = KEYS[4], KEYS[5]
local now = now_ms()
local ready = is_ready()
local taken, acquired = {}, {}
for i = 6, #KEYS do
  local current = redis.call('GET', KEYS[i])
  if current and current ~= owner then
    taken[#taken + 1] = ARGV[i]
  elseif ready and is_sold(redis.call('HGET', BOARD, ARGV[i]), now) then
    taken[#taken + 1] = ARGV[i]
  elseif not current then
    acquired[#acquired + 1] = ARGV[i]
  end
end
if #taken > 0 then
  return {0, ready and 1 or 0, unpack(taken)}
end
redis.call('ZREMRANGEBYSCORE', OWNED, '-inf', now)
if limit > 0 then
  local count = redis.call('ZCARD', OWNED)
  if count + #acquired > limit then
    return {2, count}
  end
end
local changes, n = {}, 0
n = take_lapsed(ready, INDEX, now, changes, n)
local expires = now + ttl
local state = 'H' .. string.format('%d', expires) .. ':' .. owner
for i = 6, #KEYS do
  redis.call('SET', KEYS[i], owner, 'PX', ttl)
  redis.call('ZADD', INDEX, expires, ARGV[i])
  redis.call('ZADD', OWNED, expires, ARGV[i])
  put(ready, ARGV[i], state)
  changes[ARGV[i]] = state
  n = n + 1
end
redis.call('PEXPIRE', OWNED, ttl)
-- The index outlives its holds by an hour, so lapsed holds are still found and taken off.
if redis.call('PTTL', INDEX) < ttl + 3600000 then
  redis.call('PEXPIRE', INDEX, ttl + 3600000)
end
local count = redis.call('ZCARD', OWNED)
record(ready, changes, n, channel, log_max, now)
return {1, count, ready and 1 or 0, unpack(acquired)}
"""
)

# Compare-and-delete: only the owner's holds go. Returns the seats released.
RELEASE = (
    _PRELUDE
    + """
local owner, channel, log_max = ARGV[1], ARGV[4], tonumber(ARGV[5])
local INDEX, OWNED = KEYS[4], KEYS[5]
local ready = is_ready()
local released, changes, n = {}, {}, 0
for i = 6, #KEYS do
  if redis.call('GET', KEYS[i]) == owner then
    redis.call('DEL', KEYS[i])
    redis.call('ZREM', INDEX, ARGV[i])
    redis.call('ZREM', OWNED, ARGV[i])
    released[#released + 1] = ARGV[i]
    local state = redis.call('HGET', BOARD, ARGV[i])
    local _, holder = hold_of(state)
    if holder == owner or (not ready and not state) then
      put(ready, ARGV[i], '')
      changes[ARGV[i]] = ''
      n = n + 1
    end
  end
end
record(ready, changes, n, channel, log_max, now_ms())
return released
"""
)

# After a booking committed: its seats are sold (ARGV[2]: 'B', or 'P<ms>' while unpaid), and
# its owner's holds on them end.
SELL = (
    _PRELUDE
    + """
local owner, sold, channel, log_max = ARGV[1], ARGV[2], ARGV[4], tonumber(ARGV[5])
local INDEX, OWNED = KEYS[4], KEYS[5]
local ready = is_ready()
local changes, n = {}, 0
for i = 6, #KEYS do
  if redis.call('GET', KEYS[i]) == owner then
    redis.call('DEL', KEYS[i])
    redis.call('ZREM', INDEX, ARGV[i])
    redis.call('ZREM', OWNED, ARGV[i])
  end
  put(ready, ARGV[i], sold)
  changes[ARGV[i]] = sold
  n = n + 1
end
record(ready, changes, n, channel, log_max, now_ms())
return n
"""
)

# After a booking was paid: its unpaid seats are sold for good. ARGV[6..] are the seats.
CONFIRM = (
    _PRELUDE
    + """
local channel, log_max = ARGV[4], tonumber(ARGV[5])
local ready = is_ready()
local changes, n = {}, 0
for i = 6, #ARGV do
  local state = redis.call('HGET', BOARD, ARGV[i])
  if (state and string.sub(state, 1, 1) == 'P') or not ready then
    put(ready, ARGV[i], 'B')
    changes[ARGV[i]] = 'B'
    n = n + 1
  end
end
record(ready, changes, n, channel, log_max, now_ms())
return n
"""
)

# After a booking was cancelled or expired: its sold seats are free. ARGV[6..] are the seats.
FREE = (
    _PRELUDE
    + """
local channel, log_max = ARGV[4], tonumber(ARGV[5])
local ready = is_ready()
local changes, n = {}, 0
for i = 6, #ARGV do
  local state = redis.call('HGET', BOARD, ARGV[i])
  local sold = state and (state == 'B' or string.sub(state, 1, 1) == 'P')
  if sold or (not ready and not state) then
    put(ready, ARGV[i], '')
    changes[ARGV[i]] = ''
    n = n + 1
  end
end
record(ready, changes, n, channel, log_max, now_ms())
return n
"""
)

# Lapsed holds off the board. KEYS[4] is the hold index.
PRUNE = (
    _PRELUDE
    + """
local channel, log_max = ARGV[4], tonumber(ARGV[5])
local ready = is_ready()
local now = now_ms()
local changes = {}
local n = take_lapsed(ready, KEYS[4], now, changes, 0)
record(ready, changes, n, channel, log_max, now)
return n
"""
)

# Build the board from the database's sold seats and the live holds (both read just before),
# unless it is installed already. Entries on the board were written after those reads, so they
# win (HSETNX); tombstones then go. ARGV: channel, log length, board TTL (s), then
# (seat, state) pairs. Returns {installed?, version}.
INSTALL = """
local BOARD, VERSION, LOG = KEYS[1], KEYS[2], KEYS[3]
if redis.call('HEXISTS', BOARD, '_ready') == 1 then
  return {0, redis.call('GET', VERSION) or '0'}
end
local channel, ttl = ARGV[1], tonumber(ARGV[3])
for i = 4, #ARGV, 2 do
  redis.call('HSETNX', BOARD, ARGV[i], ARGV[i + 1])
end
local entries = redis.call('HGETALL', BOARD)
for i = 1, #entries, 2 do
  if entries[i + 1] == 'F' then
    redis.call('HDEL', BOARD, entries[i])
  end
end
redis.call('EXPIRE', BOARD, ttl)
local t = redis.call('TIME')
local floor = tonumber(t[1]) * 1000000 + math.floor(tonumber(t[2]) / 1000) * 1000
if tonumber(redis.call('GET', VERSION) or '0') < floor then
  redis.call('SET', VERSION, string.format('%d', floor))
end
redis.call('INCR', VERSION)
local vs = redis.call('GET', VERSION)
redis.call('EXPIRE', VERSION, 604800)
local msg = '{"v":' .. vs .. ',"s":{},"reset":true}'
redis.call('HSET', BOARD, '_ready', vs)
redis.call('DEL', LOG)
redis.call('ZADD', LOG, tonumber(vs), msg)
redis.call('EXPIRE', LOG, 604800)
redis.call('PUBLISH', channel, msg)
return {1, vs}
"""

# The changes after a version. ARGV[1] the version. Returns {version, -1} when only a snapshot
# will do, {version, 0} when nothing changed, {version, 1, change messages...} otherwise.
CHANGES = """
local BOARD, VERSION, LOG = KEYS[1], KEYS[2], KEYS[3]
local vs = redis.call('GET', VERSION)
if not vs or redis.call('HEXISTS', BOARD, '_ready') == 0 then
  return {vs or '0', -1}
end
local v, since = tonumber(vs), tonumber(ARGV[1])
if since == v then return {vs, 0} end
if since > v then return {vs, -1} end
local first = redis.call('ZRANGE', LOG, 0, 0, 'WITHSCORES')
if #first == 0 or tonumber(first[2]) > since + 1 then
  return {vs, -1}
end
local entries = redis.call('ZRANGEBYSCORE', LOG, '(' .. ARGV[1], '+inf')
return {vs, 1, unpack(entries)}
"""

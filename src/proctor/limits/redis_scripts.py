"""The Lua scripts of the Redis counter (see redis.py for the key layout).

Floats travel as %.17g strings both ways, which round-trips a double exactly; budget sums are
integers of micro-units. A script returns strings rather than Lua numbers because Redis
truncates a Lua number to an integer on the way out.
"""

from __future__ import annotations

RESERVE = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if current + tonumber(ARGV[1]) > tonumber(ARGV[2]) then
  return {0, current}
end
-- INCRBY rather than SET of a Lua number: Lua formats numbers with %.14g, which would
-- print large sums in exponent notation.
local value = redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {1, value}
"""

ADJUST = """
local value = redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return value
"""

# Shared head of the bucket scripts: refill to the server's clock. ARGV: amount, capacity,
# period_s. Floats travel as %.17g strings both ways, which round-trips a double exactly.
REFILL = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local amount = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local period = tonumber(ARGV[3])
local rate = capacity / period
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = capacity
else
  -- After a failover the new primary's clock may be behind: never refill negatively.
  tokens = math.min(capacity, tokens + math.max(0, now - ts) / 1000000 * rate)
end
local function save(left)
  redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', left),
             'ts', string.format('%.17g', now))
  -- A missing bucket reads as full, so the key may go once it would be full again: the
  -- time to refill from `left`, plus a period of slack (a couple of periods in all when
  -- left >= 0; longer when `give` drove it below zero).
  local ttl = math.ceil((period + (capacity - left) / rate) * 1000)
  redis.call('PEXPIRE', KEYS[1], string.format('%d', math.max(1, ttl)))
end
"""

# A refusal writes nothing: refilling is a function of time, so the next call computes the
# same tokens from the stored state as it would from a refreshed one.
TAKE = (
    REFILL
    + """
if tokens < amount then
  return {0, string.format('%.17g', tokens),
          string.format('%.17g', (amount - tokens) / rate)}
end
tokens = tokens - amount
save(tokens)
return {1, string.format('%.17g', tokens), '0'}
"""
)

GIVE = (
    REFILL
    + """
save(math.min(capacity, tokens + amount))
return 1
"""
)

# The batch forms. The refill arithmetic is the one above, inlined per key; a key may appear
# more than once (two rules on one subject), so running figures are kept in Lua tables.

# acquire: KEYS = the buckets to take from, then the budgets to reserve on.
# ARGV = number of takes, then (amount, capacity, period_s) per take, then
# (micro-units, limit in micro-units, ttl ms) per reservation. Nothing is written unless
# everything fits. Returns {refused (1-based index, 0 = none), retry_after, value...}.
ACQUIRE = """
local takes = tonumber(ARGV[1])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tokens, sums, out = {}, {}, {}
for i = 1, takes do
  local key, a = KEYS[i], 2 + (i - 1) * 3
  local amount, capacity = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
  local rate = capacity / tonumber(ARGV[a + 2])
  local have = tokens[key]
  if have == nil then
    local state = redis.call('HMGET', key, 'tokens', 'ts')
    local left, ts = tonumber(state[1]), tonumber(state[2])
    if left == nil or ts == nil then
      have = capacity
    else
      have = math.min(capacity, left + math.max(0, now - ts) / 1000000 * rate)
    end
  end
  if have < amount then
    out[i] = string.format('%.17g', have)
    return {tostring(i), string.format('%.17g', (amount - have) / rate), unpack(out)}
  end
  tokens[key] = have - amount
  out[i] = string.format('%.17g', have - amount)
end
local base = 2 + takes * 3
for j = 1, #KEYS - takes do
  local key, a = KEYS[takes + j], base + (j - 1) * 3
  local current = sums[key] or tonumber(redis.call('GET', key) or '0')
  local after = current + tonumber(ARGV[a])
  if after > tonumber(ARGV[a + 1]) then
    out[takes + j] = string.format('%d', current)
    return {tostring(takes + j), '0', unpack(out)}
  end
  sums[key] = after
  out[takes + j] = string.format('%d', after)
end
for i = 1, takes do
  local key, a = KEYS[i], 2 + (i - 1) * 3
  local capacity, period = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  local left = tokens[key]
  redis.call('HSET', key, 'tokens', string.format('%.17g', left),
             'ts', string.format('%.17g', now))
  local ttl = math.ceil((period + (capacity - left) / (capacity / period)) * 1000)
  redis.call('PEXPIRE', key, string.format('%d', math.max(1, ttl)))
end
for j = 1, #KEYS - takes do
  local a = base + (j - 1) * 3
  redis.call('INCRBY', KEYS[takes + j], ARGV[a])
  redis.call('PEXPIRE', KEYS[takes + j], ARGV[a + 2])
end
return {'0', '0', unpack(out)}
"""

# settle: KEYS = the budgets to adjust, then the buckets to give to. ARGV = number of
# adjustments, then (micro-units, ttl ms) per adjustment, then (amount, capacity, period_s)
# per give. Returns the sum after each adjustment.
SETTLE = """
local adjusts = tonumber(ARGV[1])
local out = {}
for j = 1, adjusts do
  local a = 2 + (j - 1) * 2
  out[j] = redis.call('INCRBY', KEYS[j], ARGV[a])
  redis.call('PEXPIRE', KEYS[j], ARGV[a + 1])
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local base = 2 + adjusts * 2
for i = 1, #KEYS - adjusts do
  local key, a = KEYS[adjusts + i], base + (i - 1) * 3
  local amount, capacity, period = tonumber(ARGV[a]), tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  local rate = capacity / period
  local state = redis.call('HMGET', key, 'tokens', 'ts')
  local left, ts = tonumber(state[1]), tonumber(state[2])
  if left == nil or ts == nil then
    left = capacity
  else
    left = math.min(capacity, left + math.max(0, now - ts) / 1000000 * rate)
  end
  left = math.min(capacity, left + amount)
  redis.call('HSET', key, 'tokens', string.format('%.17g', left),
             'ts', string.format('%.17g', now))
  local ttl = math.ceil((period + (capacity - left) / rate) * 1000)
  redis.call('PEXPIRE', key, string.format('%d', math.max(1, ttl)))
end
return out
"""

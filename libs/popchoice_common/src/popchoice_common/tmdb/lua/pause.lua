-- Extends (never shortens) the shared pause after a 429.
-- KEYS: paused-until. ARGV: pause_ms. Returns ms until the pause ends.
local key = KEYS[1]
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local until_ms = now + tonumber(ARGV[1])
if until_ms > tonumber(redis.call('GET', key) or '0') then
  redis.call('SET', key, until_ms, 'PX', tonumber(ARGV[1]) + 1000)
end
return until_ms - now

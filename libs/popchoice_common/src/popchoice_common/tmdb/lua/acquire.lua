-- One request's turn in the shared TMDB budget (a sliding window); interactive requests go first.
-- KEYS: requests log, paused-until, waiters (one hash tag: the budget is one slot).
-- ARGV: window_ms, limit, priority, token, waiter_ttl_ms. Returns ms to wait (0 = go).
local log, pause, waiters = KEYS[1], KEYS[2], KEYS[3]
local window, limit = tonumber(ARGV[1]), tonumber(ARGV[2])
local priority, token, ttl = ARGV[3], ARGV[4], tonumber(ARGV[5])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', waiters, '-inf', now)
local paused = tonumber(redis.call('GET', pause) or '0')
if paused > now then
  if priority == 'interactive' then redis.call('ZADD', waiters, paused + ttl, token) end
  return paused - now
end
redis.call('ZREMRANGEBYSCORE', log, '-inf', now - window)
local count = redis.call('ZCARD', log)
if priority == 'background' and redis.call('ZCARD', waiters) > 0 then
  if count < limit then return 20 end
end
if count < limit then
  redis.call('ZADD', log, now, token)
  redis.call('PEXPIRE', log, window * 2)
  redis.call('ZREM', waiters, token)
  return 0
end
local oldest = tonumber(redis.call('ZRANGE', log, 0, 0, 'WITHSCORES')[2])
local wait = math.max(oldest + window - now, 1)
if priority == 'interactive' then redis.call('ZADD', waiters, now + wait + ttl, token) end
return wait

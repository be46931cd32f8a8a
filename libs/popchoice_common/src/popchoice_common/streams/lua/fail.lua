-- Records a failed attempt. Each failure is kept in the job's error list (with its traceback) and
-- counted for the minute. An outage (a dependency not answering) within the window since the job's
-- first outage failure: retried with its own capped backoff, the attempt uncounted; 'outage'. Past the
-- window it is an ordinary retryable failure. Retryable with attempts left: ack, state retrying,
-- scheduled in the delayed set; 'retrying'. Otherwise: dead letter; 'dead'.
-- KEYS: stream, dead, delayed, counters, throughput, dead-jobs index, job state hash, job error list.
-- ARGV: stream name, group, consumer, now_ms, entry_id, job_id, data, error, kind (0 permanent,
-- 1 retryable, 2 outage), max_attempts, delay_ms, dead_ttl, dead_max_count, traceback,
-- outage_window_ms, outage_backoff_ms, outage_backoff_cap_ms.
-- Returns {outcome}, and for 'dead' then the job ids past dead_max_count, oldest first (for FORGET).
local k = {stream = KEYS[1], dead = KEYS[2], counters = KEYS[4], dead_index = KEYS[6]}
local delayed, throughput, key, errors = KEYS[3], KEYS[5], KEYS[7], KEYS[8]
local name, group, consumer, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local entry_id, job_id, data, err = ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local kind, max_attempts, delay = tonumber(ARGV[9]), tonumber(ARGV[10]), tonumber(ARGV[11])
local attempts = 0
if job_id ~= '' then attempts = tonumber(redis.call('HGET', key, 'attempts') or '0') end
redis.call('HINCRBY', k.counters, 'failed', 1)
count_minute(throughput, 'f:', now, 1)
if job_id ~= '' then
  redis.call('RPUSH', errors, cjson.encode({attempt = attempts, at = tonumber(now), error = err,
                                            traceback = ARGV[14] or '', consumer = consumer}))
  redis.call('LTRIM', errors, -20, -1)
  redis.call('EXPIRE', errors, math.max(tonumber(ARGV[12]), 86400))
end
if job_id ~= '' and kind == 2 then
  local since = tonumber(redis.call('HGET', key, 'outage_since') or '0')
  if since == 0 then
    since = tonumber(now)
    redis.call('HSET', key, 'outage_since', now)
  end
  if tonumber(now) - since <= tonumber(ARGV[15]) then
    local n = redis.call('HINCRBY', key, 'outage_retries', 1)
    local due = tonumber(now) + math.min(tonumber(ARGV[17]), tonumber(ARGV[16]) * 2 ^ (n - 1))
    redis.call('HINCRBY', key, 'attempts', -1)
    redis.call('XACK', k.stream, group, entry_id)
    redis.call('HSET', key, 'state', 'retrying', 'error', err, 'next_attempt_at', due, 'data', data)
    redis.call('ZADD', delayed, due, job_id)
    redis.call('HINCRBY', k.counters, 'retried', 1)
    return {'outage'}
  end
  kind = 1
elseif job_id ~= '' then
  redis.call('HDEL', key, 'outage_since', 'outage_retries')
end
if job_id ~= '' and kind == 1 and attempts < max_attempts then
  local due = tonumber(now) + delay
  redis.call('XACK', k.stream, group, entry_id)
  redis.call('HSET', key, 'state', 'retrying', 'error', err, 'next_attempt_at', due, 'data', data)
  redis.call('ZADD', delayed, due, job_id)
  redis.call('HINCRBY', k.counters, 'retried', 1)
  return {'retrying'}
end
dead_letter(k, key, name, group, entry_id, job_id, data, err, attempts, consumer, now, ARGV[12])
local out = {'dead'}
local excess = redis.call('ZCARD', k.dead_index) - tonumber(ARGV[13])
if excess > 0 then
  for _, old in ipairs(redis.call('ZRANGE', k.dead_index, 0, excess - 1)) do out[#out + 1] = old end
end
return out

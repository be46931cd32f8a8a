-- Acks the entries and records their jobs completed.
-- KEYS: stream, completed index, counters, throughput, then entry i's job state hash at KEYS[4 + i].
-- ARGV: group, now_ms, completed_ttl_s, completed_max_count, then entry_id, job_id pairs.
-- Returns {acked, then the job ids past completed_max_count, oldest first}: the caller forgets those
-- with FORGET (their hashes are keys this script was not given).
local stream, index, counters, throughput = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local group, now = ARGV[1], ARGV[2]
local ttl, max_count = tonumber(ARGV[3]), tonumber(ARGV[4])
local ids = {}
-- The completed index gets one ZADD per (up to) 500 jobs, not one per job.
local scored = {}
for i = 1, (#ARGV - 4) / 2 do
  local id, job_id = ARGV[3 + 2 * i], ARGV[4 + 2 * i]
  ids[#ids + 1] = id
  if job_id ~= '' then
    local key = KEYS[4 + i]
    redis.call('HSET', key, 'state', 'completed', 'finished_at', now)
    redis.call('HDEL', key, 'data', 'error')
    if ttl > 0 then redis.call('EXPIRE', key, ttl) end
    scored[#scored + 1] = now
    scored[#scored + 1] = job_id
    if #scored >= 1000 then
      redis.call('ZADD', index, unpack(scored))
      scored = {}
    end
  end
end
if #scored > 0 then redis.call('ZADD', index, unpack(scored)) end
if #ids > 0 then
  redis.call('XACK', stream, group, unpack(ids))
  redis.call('HINCRBY', counters, 'processed', #ids)
  count_minute(throughput, 'c:', now, #ids)
end
local out = {#ids}
local excess = redis.call('ZCARD', index) - max_count
if excess > 0 then
  for _, job_id in ipairs(redis.call('ZRANGE', index, 0, excess - 1)) do out[#out + 1] = job_id end
end
return out

-- Moves a retrying job to the stream now instead of at its due time.
-- KEYS: stream, delayed, job state hash. ARGV: stream name, job id.
-- Returns the new entry id, or false when the job is not retrying.
local stream, delayed, key = KEYS[1], KEYS[2], KEYS[3]
local name, job_id = ARGV[1], ARGV[2]
local data = redis.call('HGET', key, 'data')
if not data or redis.call('HGET', key, 'state') ~= 'retrying' or redis.call('HGET', key, 'stream') ~= name then
  return false
end
local id = redis.call('XADD', stream, '*', 'job_id', job_id, 'data', data)
redis.call('HSET', key, 'state', 'queued', 'entry_id', id)
redis.call('HDEL', key, 'next_attempt_at')
redis.call('ZREM', delayed, job_id)
return id

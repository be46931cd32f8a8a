-- An operator's retry: the dead letter's payload is enqueued under a job id of its own (so no recent
-- job of the same id swallows it), the dead letter deleted, and the old job's state told where it went.
-- The caller read the dead letter's job id first (its hash is KEYS[6]).
-- KEYS: dead, stream, counters, dead-jobs index, new job state hash, old job state hash.
-- ARGV: stream name, dead entry id, now_ms, new job id, new data, old job id.
-- Returns the new entry id or false.
local dead, stream, counters, dead_index, key, old = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local name, dead_id, now, new_job_id, data = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local entry = redis.call('XRANGE', dead, dead_id, dead_id)
if #entry == 0 then return false end
local fields = entry[1][2]
local old_job_id = ''
for i = 1, #fields, 2 do
  if fields[i] == 'job_id' then old_job_id = fields[i + 1] end
end
if old_job_id ~= ARGV[6] then return false end
if redis.call('EXISTS', key) == 1 then return false end
local id = redis.call('XADD', stream, '*', 'job_id', new_job_id, 'data', data)
redis.call('HSET', key, 'state', 'queued', 'stream', name, 'entry_id', id, 'attempts', 0, 'reclaims', 0,
           'enqueued_at', now, 'data', data)
redis.call('HINCRBY', counters, 'enqueued', 1)
if old_job_id ~= '' then
  if redis.call('HGET', old, 'state') == 'dead' then redis.call('HSET', old, 'retried_as', new_job_id) end
  redis.call('ZREM', dead_index, old_job_id)
end
redis.call('XDEL', dead, dead_id)
return id

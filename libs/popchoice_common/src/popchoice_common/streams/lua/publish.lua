-- Enqueues jobs unless their job id is known. A job id whose state is queued/active/retrying/completed
-- (its hash still exists) is not enqueued again: its current state and entry id are returned instead.
-- Dead or unknown ids are enqueued.
-- KEYS: stream, counters, dead-jobs index, then job i's state hash at KEYS[3 + i].
-- ARGV: stream name, now_ms, then job_id, data pairs.
-- Returns flat: state ('enqueued' or the current one), entry id per job.
local stream, counters, dead_index = KEYS[1], KEYS[2], KEYS[3]
local name, now = ARGV[1], ARGV[2]
local out = {}
local added = 0
for i = 1, (#ARGV - 2) / 2 do
  local job_id, data = ARGV[1 + 2 * i], ARGV[2 + 2 * i]
  local key = KEYS[3 + i]
  local state = redis.call('HGET', key, 'state')
  if state and state ~= 'dead' then
    out[#out + 1] = state
    out[#out + 1] = redis.call('HGET', key, 'entry_id') or ''
  else
    local id = redis.call('XADD', stream, '*', 'job_id', job_id, 'data', data)
    redis.call('DEL', key)
    redis.call('HSET', key, 'state', 'queued', 'stream', name, 'entry_id', id, 'attempts', 0,
               'reclaims', 0, 'enqueued_at', now, 'data', data)
    redis.call('ZREM', dead_index, job_id)
    added = added + 1
    out[#out + 1] = 'enqueued'
    out[#out + 1] = id
  end
end
if added > 0 then redis.call('HINCRBY', counters, 'enqueued', added) end
return out

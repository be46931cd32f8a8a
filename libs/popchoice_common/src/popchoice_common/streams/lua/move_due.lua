-- Re-adds due retries to the stream. The caller read the due ids (ZRANGEBYSCORE) first; each is moved
-- only if it is still in the delayed set and due.
-- KEYS: stream, delayed, then job i's state hash at KEYS[2 + i].
-- ARGV: now_ms, then job ids. Returns how many left the delayed set.
local stream, delayed, now = KEYS[1], KEYS[2], tonumber(ARGV[1])
local moved = 0
for i = 1, #ARGV - 1 do
  local job_id, key = ARGV[1 + i], KEYS[2 + i]
  local due = redis.call('ZSCORE', delayed, job_id)
  if due and tonumber(due) <= now then
    local data = redis.call('HGET', key, 'data')
    if data and redis.call('HGET', key, 'state') == 'retrying' then
      local id = redis.call('XADD', stream, '*', 'job_id', job_id, 'data', data)
      redis.call('HSET', key, 'state', 'queued', 'entry_id', id)
      redis.call('HDEL', key, 'next_attempt_at')
    end
    redis.call('ZREM', delayed, job_id)
    moved = moved + 1
  end
end
return moved

-- Entries fetched but never started (shutdown) go back to the stream as new entries, their attempt
-- uncounted.
-- KEYS: stream, then entry i's job state hash at KEYS[1 + i].
-- ARGV: group, then entry_id, job_id pairs.
local stream, group = KEYS[1], ARGV[1]
for i = 1, (#ARGV - 1) / 2 do
  local id, job_id = ARGV[2 * i], ARGV[2 * i + 1]
  local entry = redis.call('XRANGE', stream, id, id)
  if #entry == 1 and redis.call('XACK', stream, group, id) == 1 then
    local fields = entry[1][2]
    local new_id = redis.call('XADD', stream, '*', unpack(fields))
    if job_id ~= '' then
      local key = KEYS[1 + i]
      if redis.call('HGET', key, 'state') == 'active' then
        redis.call('HINCRBY', key, 'attempts', -1)
        redis.call('HSET', key, 'state', 'queued', 'entry_id', new_id)
      end
    end
  end
end
return 1

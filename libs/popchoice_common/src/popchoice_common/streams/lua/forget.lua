-- Count-based retention: forgets the oldest jobs of an index (completed or dead) while it holds more
-- than max_count (an id no longer among the oldest is kept), deleting a job's state only if it is still in that state (a re-enqueued id is kept).
-- KEYS: index, then job i's state hash at KEYS[1 + i].
-- ARGV: state, max_count, then job ids (oldest first). Returns how many were forgotten.
local index, state, max_count = KEYS[1], ARGV[1], tonumber(ARGV[2])
local forgotten = 0
local count = redis.call('ZCARD', index)
for i = 1, #ARGV - 2 do
  if count <= max_count then break end
  local job_id = ARGV[2 + i]
  local rank = redis.call('ZRANK', index, job_id)
  if rank and rank < count - max_count then
    if redis.call('HGET', KEYS[1 + i], 'state') == state then redis.call('DEL', KEYS[1 + i]) end
    redis.call('ZREM', index, job_id)
    count = count - 1
    forgotten = forgotten + 1
  end
end
return forgotten

-- Count-based retention: forgets the oldest jobs of an index (completed or dead) while it holds more
-- than max_count (an id no longer among the oldest is kept), deleting a job's state only if it is still in that state (a re-enqueued id is kept).
-- KEYS: index, then job i's state hash at KEYS[1 + i].
-- ARGV: state, max_count, then job ids (oldest first). Returns how many were forgotten.
local index, state, max_count = KEYS[1], ARGV[1], tonumber(ARGV[2])
local excess = redis.call('ZCARD', index) - max_count
if excess <= 0 then return 0 end
-- Among the oldest now? One ZRANGE for all of them, not a ZRANK each.
local oldest = {}
for _, job_id in ipairs(redis.call('ZRANGE', index, 0, excess - 1)) do oldest[job_id] = true end
local members, keys = {}, {}
for i = 1, #ARGV - 2 do
  local job_id = ARGV[2 + i]
  if oldest[job_id] then
    oldest[job_id] = nil
    if redis.call('HGET', KEYS[1 + i], 'state') == state then keys[#keys + 1] = KEYS[1 + i] end
    members[#members + 1] = job_id
  end
end
-- In slices: unpack() is bounded by Lua's stack.
for start = 1, #keys, 500 do redis.call('DEL', unpack(keys, start, math.min(start + 499, #keys))) end
for start = 1, #members, 500 do
  redis.call('ZREM', index, unpack(members, start, math.min(start + 499, #members)))
end
return #members

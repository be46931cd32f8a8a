-- migrate-keys: a stream's lifetime counters and per-minute throughput are added to the new ones, and
-- its pause flag moved; then the old keys are deleted (so a second run adds nothing).
-- KEYS: old counters, new counters, old throughput, new throughput, old paused, new paused.
local function merge(old, new)
  local fields = redis.call('HGETALL', old)
  for i = 1, #fields, 2 do redis.call('HINCRBY', new, fields[i], fields[i + 1]) end
  redis.call('DEL', old)
end
merge(KEYS[1], KEYS[2])
merge(KEYS[3], KEYS[4])
if redis.call('EXISTS', KEYS[5]) == 1 then
  redis.call('SET', KEYS[6], redis.call('GET', KEYS[5]))
  redis.call('DEL', KEYS[5])
end
return 1

-- migrate-keys: moves one stream entry not yet acknowledged (queued, or held by a stopped consumer)
-- from the old stream to the new one as a new entry, with its job's state (queued again; an attempt a
-- stopped consumer had started is uncounted, as at a graceful shutdown). Old and new keys are on one
-- node: the old layout never ran on a cluster.
-- KEYS: old stream, new stream, old job hash, new job hash, old error list, new error list.
-- ARGV: old entry id, job id. Returns 1 when moved, 0 when the entry is gone (already moved).
local old_stream, new_stream = KEYS[1], KEYS[2]
local entry = redis.call('XRANGE', old_stream, ARGV[1], ARGV[1])
if #entry == 0 then return 0 end
local new_id = redis.call('XADD', new_stream, '*', unpack(entry[1][2]))
if ARGV[2] ~= '' then
  move_job(KEYS[3], KEYS[4], KEYS[5], KEYS[6])
  local state = redis.call('HGET', KEYS[4], 'state')
  if state == 'active' then
    redis.call('HINCRBY', KEYS[4], 'attempts', -1)
    redis.call('HSET', KEYS[4], 'state', 'queued', 'entry_id', new_id)
  elseif state == 'queued' then
    redis.call('HSET', KEYS[4], 'entry_id', new_id)
  end
end
redis.call('XDEL', old_stream, ARGV[1])
return 1

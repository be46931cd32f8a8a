-- Re-enqueues a dead letter with its job id and the attempts reset, then deletes the dead-letter entry.
-- The caller read the dead letter's job id first (its hash is KEYS[4]).
-- KEYS: dead, stream, dead-jobs index, job state hash.
-- ARGV: stream name, dead entry id, now_ms, job id. Returns the new entry id or false.
local dead, stream, dead_index, key = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local name, dead_id, now = ARGV[1], ARGV[2], ARGV[3]
local entry = redis.call('XRANGE', dead, dead_id, dead_id)
if #entry == 0 then return false end
local fields = entry[1][2]
local job_id, data = '', ''
for i = 1, #fields, 2 do
  if fields[i] == 'job_id' then job_id = fields[i + 1] elseif fields[i] == 'data' then data = fields[i + 1] end
end
if job_id ~= ARGV[4] then return false end
local id = redis.call('XADD', stream, '*', 'job_id', job_id, 'data', data)
if job_id ~= '' then
  redis.call('DEL', key)
  redis.call('HSET', key, 'state', 'queued', 'stream', name, 'entry_id', id, 'attempts', 0, 'reclaims', 0,
             'enqueued_at', now, 'data', data)
  redis.call('ZREM', dead_index, job_id)
end
redis.call('XDEL', dead, dead_id)
return id

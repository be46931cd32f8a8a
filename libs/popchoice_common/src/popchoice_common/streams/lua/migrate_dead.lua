-- migrate-keys: moves one dead letter (a new entry in the new dead-letter stream, fields kept), its
-- job's state and its place in the dead-jobs index.
-- KEYS: old dead stream, new dead stream, old dead-jobs index, new dead-jobs index, old job hash,
-- new job hash, old error list, new error list.
-- ARGV: dead entry id, job id. Returns 1 when moved, 0 when the entry is gone (already moved).
local entry = redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1])
if #entry == 0 then return 0 end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', 10000, '*', unpack(entry[1][2]))
if ARGV[2] ~= '' then
  move_job(KEYS[5], KEYS[6], KEYS[7], KEYS[8])
  local died = redis.call('ZSCORE', KEYS[3], ARGV[2])
  if died then
    redis.call('ZADD', KEYS[4], died, ARGV[2])
    redis.call('ZREM', KEYS[3], ARGV[2])
  end
end
redis.call('XDEL', KEYS[1], ARGV[1])
return 1

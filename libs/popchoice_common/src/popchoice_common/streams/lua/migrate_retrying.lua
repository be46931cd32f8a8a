-- migrate-keys: moves one retrying job (its place in the delayed set, with its due time, and its state).
-- KEYS: old delayed set, new delayed set, old job hash, new job hash, old error list, new error list.
-- ARGV: job id. Returns 1 when moved, 0 when it is no longer in the old delayed set.
local due = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not due then return 0 end
move_job(KEYS[3], KEYS[4], KEYS[5], KEYS[6])
redis.call('ZADD', KEYS[2], due, ARGV[1])
redis.call('ZREM', KEYS[1], ARGV[1])
return 1

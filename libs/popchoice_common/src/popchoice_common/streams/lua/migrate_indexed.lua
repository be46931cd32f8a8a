-- migrate-keys: moves one job of an index (completed: its state is the dedupe window; dead-jobs whose
-- dead letter is gone) with its state and its place (score) in the index.
-- KEYS: old index, new index, old job hash, new job hash, old error list, new error list.
-- ARGV: job id. Returns 1 when moved, 0 when it is no longer in the old index.
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score then return 0 end
move_job(KEYS[3], KEYS[4], KEYS[5], KEYS[6])
redis.call('ZADD', KEYS[2], score, ARGV[1])
redis.call('ZREM', KEYS[1], ARGV[1])
return 1

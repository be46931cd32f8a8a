-- Marks entries this consumer already holds (a read or XAUTOCLAIM delivered them) active, or decides
-- they must not run.
-- KEYS: stream, dead, counters, dead-jobs index, then entry i's job state hash at KEYS[4 + i]
-- (an entry without a job id still has a place: the hash of the empty id, never touched).
-- ARGV: stream name, group, consumer, now_ms, reclaimed (0/1), max_reclaims, dead_ttl,
-- then entry_id, job_id pairs. Returns flat: entry_id, action, attempts. The payload is read from the
-- stream entry only when a job needs it (no state yet, or dead-lettered), so it is not sent twice.
local k = {stream = KEYS[1], dead = KEYS[2], counters = KEYS[3], dead_index = KEYS[4]}
local name, group, consumer, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local reclaimed = tonumber(ARGV[5])
local out = {}
for i = 1, (#ARGV - 7) / 2 do
  local id, job_id = ARGV[6 + 2 * i], ARGV[7 + 2 * i]
  local action = {'run', 0}
  if job_id ~= '' then
    action = mark_active(k, KEYS[4 + i], name, group, consumer, now, id, job_id, reclaimed, ARGV[6], ARGV[7])
  end
  out[#out + 1] = id; out[#out + 1] = action[1]; out[#out + 1] = action[2]
end
return out

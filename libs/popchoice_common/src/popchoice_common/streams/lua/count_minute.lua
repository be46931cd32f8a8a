-- Per-minute counters for the dashboard's throughput chart: one HINCRBY per call; the first count of
-- a new minute (about once a minute) also drops the minutes older than two hours.
local function count_minute(key, kind, now, n)
  local minute = math.floor(tonumber(now) / 60000)
  if redis.call('HINCRBY', key, kind .. minute, n) == n then
    for _, f in ipairs(redis.call('HKEYS', key)) do
      local m = tonumber(string.sub(f, 3))
      if m and m < minute - 120 then redis.call('HDEL', key, f) end
    end
  end
end

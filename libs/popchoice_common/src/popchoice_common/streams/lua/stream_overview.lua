-- What the dashboard shows of one stream, in one call (a pipeline of these serves every stream in one
-- round trip): length, paused, dead letters, delayed, completed, the counters and the throughput hash
-- (flat), then per group: name, pending, lag, last-delivered id, oldest pending id, and its consumers
-- flat (name, pending, idle). Read only.
-- KEYS: stream, paused, dead, delayed, completed index, counters, throughput.
local stream = KEYS[1]
local out = {
  redis.call('XLEN', stream),
  redis.call('EXISTS', KEYS[2]),
  redis.call('XLEN', KEYS[3]),
  redis.call('ZCARD', KEYS[4]),
  redis.call('ZCARD', KEYS[5]),
  redis.call('HGETALL', KEYS[6]),
  redis.call('HGETALL', KEYS[7]),
}
local groups = {}
if redis.call('EXISTS', stream) == 1 then
  for _, info in ipairs(redis.call('XINFO', 'GROUPS', stream)) do
    local group = {}
    for i = 1, #info, 2 do group[info[i]] = info[i + 1] end
    local oldest = ''
    if tonumber(group['pending']) > 0 then
      local summary = redis.call('XPENDING', stream, group['name'])
      oldest = summary[2] or ''
    end
    local consumers = {}
    for _, consumer in ipairs(redis.call('XINFO', 'CONSUMERS', stream, group['name'])) do
      local fields = {}
      for i = 1, #consumer, 2 do fields[consumer[i]] = consumer[i + 1] end
      consumers[#consumers + 1] = fields['name']
      consumers[#consumers + 1] = fields['pending']
      consumers[#consumers + 1] = fields['idle']
    end
    local lag = group['lag']
    if lag == nil or lag == false then lag = -1 end
    groups[#groups + 1] = {group['name'], group['pending'], lag, group['last-delivered-id'], oldest, consumers}
  end
end
out[#out + 1] = groups
return out

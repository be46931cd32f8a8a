-- Shared by CLAIMED and FAIL (prepended to them): dead-lettering, and marking one delivered entry active.
-- k holds the stream's keys: stream, dead, counters, dead_index.

local function dead_letter(k, job_key, name, group, entry_id, job_id, data, reason, attempts, consumer, now, dead_ttl)
  local enqueued = ''
  if job_id ~= '' then enqueued = redis.call('HGET', job_key, 'enqueued_at') or '' end
  redis.call('XADD', k.dead, 'MAXLEN', '~', 10000, '*', 'job_id', job_id, 'data', data,
             'error', reason, 'attempts', attempts, 'consumer', consumer, 'failed_at', now,
             'enqueued_at', enqueued, 'entry_id', entry_id, 'stream', name)
  redis.call('XACK', k.stream, group, entry_id)
  if job_id ~= '' then
    redis.call('HSET', job_key, 'state', 'dead', 'error', reason, 'finished_at', now, 'stream', name, 'data', data)
    if tonumber(dead_ttl) > 0 then redis.call('EXPIRE', job_key, dead_ttl) end
    redis.call('ZADD', k.dead_index, now, job_id)
  end
  redis.call('HINCRBY', k.counters, 'dead', 1)
end

-- The payload of a stream entry (its data field), '' when the entry is gone.
local function entry_data(stream, entry_id)
  local entry = redis.call('XRANGE', stream, entry_id, entry_id)
  if #entry == 0 then return '' end
  local fields = entry[1][2]
  for i = 1, #fields, 2 do
    if fields[i] == 'data' then return fields[i + 1] end
  end
  return ''
end

-- Returns the action: 'run' (with attempts), 'skip' (already completed or dead: ack only) or 'dead'.
-- The common case (a job read once) is two calls: HMGET of state and attempts, one HSET.
local function mark_active(k, job_key, name, group, consumer, now, entry_id, job_id,
                           reclaimed, max_reclaims, dead_ttl)
  local current = redis.call('HMGET', job_key, 'state', 'attempts')
  local state = current[1]
  if state == 'completed' or state == 'dead' then
    return {'skip', 0}
  end
  local attempts = 0
  if state then
    attempts = tonumber(current[2]) or 0
  else
    redis.call('HSET', job_key, 'stream', name, 'reclaims', 0, 'enqueued_at', now,
               'data', entry_data(k.stream, entry_id))
  end
  if reclaimed == 1 then
    local reclaims = redis.call('HINCRBY', job_key, 'reclaims', 1)
    redis.call('HINCRBY', k.counters, 'reclaimed', 1)
    if reclaims > tonumber(max_reclaims) then
      local data = entry_data(k.stream, entry_id)
      if data == '' then data = redis.call('HGET', job_key, 'data') or '' end
      if not state then redis.call('HSET', job_key, 'attempts', 0) end
      dead_letter(k, job_key, name, group, entry_id, job_id, data,
                  'delivered ' .. reclaims .. ' times without finishing: its consumer died each time',
                  attempts, consumer, now, dead_ttl)
      return {'dead', attempts}
    end
  end
  attempts = attempts + 1
  redis.call('HSET', job_key, 'state', 'active', 'attempts', attempts, 'entry_id', entry_id,
             'consumer', consumer, 'started_at', now)
  return {'run', attempts}
end

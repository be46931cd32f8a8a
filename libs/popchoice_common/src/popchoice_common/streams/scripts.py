"""Lua scripts: every job-state transition happens atomically beside the stream operation it belongs to.

All keys share one prefix and live on one Redis (no cluster hash slots are declared).
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError

# ARGV: prefix, stream name, now_ms, then job_id, data pairs.
# A job id whose state is queued/active/retrying/completed (its hash still exists) is not enqueued
# again: its current state and entry id are returned instead. Dead or unknown ids are enqueued.
PUBLISH = """
local prefix, name, now = ARGV[1], ARGV[2], ARGV[3]
local stream = prefix .. name
local out = {}
local added = 0
for i = 4, #ARGV, 2 do
  local job_id, data = ARGV[i], ARGV[i + 1]
  local key = prefix .. 'job:' .. job_id
  local state = redis.call('HGET', key, 'state')
  if state and state ~= 'dead' then
    out[#out + 1] = state
    out[#out + 1] = redis.call('HGET', key, 'entry_id') or ''
  else
    local id = redis.call('XADD', stream, '*', 'job_id', job_id, 'data', data)
    redis.call('DEL', key)
    redis.call('HSET', key, 'state', 'queued', 'stream', name, 'entry_id', id, 'attempts', 0,
               'reclaims', 0, 'enqueued_at', now, 'data', data)
    redis.call('ZREM', prefix .. name .. ':dead-jobs', job_id)
    added = added + 1
    out[#out + 1] = 'enqueued'
    out[#out + 1] = id
  end
end
if added > 0 then redis.call('HINCRBY', prefix .. name .. ':counters', 'enqueued', added) end
return out
"""

# Shared by START and CLAIMED: marks one delivered entry active, or decides it must not run.
# Returns the action: 'run' (with attempts), 'skip' (already completed: ack only) or 'dead'.
_MARK_ACTIVE = """
local function dead_letter(prefix, name, group, entry_id, job_id, data, reason, attempts, consumer, now, dead_ttl)
  local key = prefix .. 'job:' .. job_id
  local enqueued = redis.call('HGET', key, 'enqueued_at') or ''
  redis.call('XADD', prefix .. name .. ':dead', 'MAXLEN', '~', 10000, '*', 'job_id', job_id, 'data', data,
             'error', reason, 'attempts', attempts, 'consumer', consumer, 'failed_at', now,
             'enqueued_at', enqueued, 'entry_id', entry_id, 'stream', name)
  redis.call('XACK', prefix .. name, group, entry_id)
  if job_id ~= '' then
    redis.call('HSET', key, 'state', 'dead', 'error', reason, 'finished_at', now, 'stream', name, 'data', data)
    if tonumber(dead_ttl) > 0 then redis.call('EXPIRE', key, dead_ttl) end
    redis.call('ZADD', prefix .. name .. ':dead-jobs', now, job_id)
  end
  redis.call('HINCRBY', prefix .. name .. ':counters', 'dead', 1)
end

local function mark_active(prefix, name, group, consumer, now, entry_id, job_id, data,
                           reclaimed, max_reclaims, dead_ttl)
  local key = prefix .. 'job:' .. job_id
  local state = redis.call('HGET', key, 'state')
  if state == 'completed' or state == 'dead' then
    return {'skip', 0}
  end
  if not state then
    redis.call('HSET', key, 'stream', name, 'attempts', 0, 'reclaims', 0, 'enqueued_at', now, 'data', data)
  end
  if reclaimed == 1 then
    local reclaims = redis.call('HINCRBY', key, 'reclaims', 1)
    redis.call('HINCRBY', prefix .. name .. ':counters', 'reclaimed', 1)
    if reclaims > tonumber(max_reclaims) then
      local attempts = redis.call('HGET', key, 'attempts') or '0'
      dead_letter(prefix, name, group, entry_id, job_id, data,
                  'delivered ' .. reclaims .. ' times without finishing: its consumer died each time',
                  attempts, consumer, now, dead_ttl)
      return {'dead', attempts}
    end
  end
  local attempts = redis.call('HINCRBY', key, 'attempts', 1)
  redis.call('HSET', key, 'state', 'active', 'entry_id', entry_id, 'consumer', consumer, 'started_at', now)
  return {'run', attempts}
end
"""

# ARGV: prefix, name, group, consumer, now_ms, count, max_reclaims, dead_ttl.
# Reads up to count new entries (no BLOCK inside a script) and marks them active.
# Returns flat: entry_id, job_id, data, action, attempts per entry.
START = (
    _MARK_ACTIVE
    + """
local prefix, name, group, consumer, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local reply = redis.call('XREADGROUP', 'GROUP', group, consumer, 'COUNT', ARGV[6], 'STREAMS', prefix .. name, '>')
local out = {}
if not reply then return out end
for _, entry in ipairs(reply[1][2]) do
  local id, fields = entry[1], entry[2]
  local job_id, data = '', ''
  for i = 1, #fields, 2 do
    if fields[i] == 'job_id' then job_id = fields[i + 1] elseif fields[i] == 'data' then data = fields[i + 1] end
  end
  local action = {'run', 0}
  if job_id ~= '' then
    action = mark_active(prefix, name, group, consumer, now, id, job_id, data, 0, ARGV[7], ARGV[8])
  end
  out[#out + 1] = id; out[#out + 1] = job_id; out[#out + 1] = data
  out[#out + 1] = action[1]; out[#out + 1] = action[2]
end
return out
"""
)

# ARGV: prefix, name, group, consumer, now_ms, reclaimed (0/1), max_reclaims, dead_ttl,
# then entry_id, job_id, data triples (entries this consumer already holds: a blocking read or
# XAUTOCLAIM delivered them). Returns flat: entry_id, action, attempts.
CLAIMED = (
    _MARK_ACTIVE
    + """
local prefix, name, group, consumer, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local reclaimed = tonumber(ARGV[6])
local out = {}
for i = 9, #ARGV, 3 do
  local id, job_id, data = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local action = {'run', 0}
  if job_id ~= '' then
    action = mark_active(prefix, name, group, consumer, now, id, job_id, data, reclaimed, ARGV[7], ARGV[8])
  end
  out[#out + 1] = id; out[#out + 1] = action[1]; out[#out + 1] = action[2]
end
return out
"""
)

# Per-minute counters for the dashboard's throughput chart: one HINCRBY per call; the first count of
# a new minute (about once a minute) also drops the minutes older than two hours.
_COUNT_MINUTE = """
local function count_minute(key, kind, now, n)
  local minute = math.floor(tonumber(now) / 60000)
  if redis.call('HINCRBY', key, kind .. minute, n) == n then
    for _, f in ipairs(redis.call('HKEYS', key)) do
      local m = tonumber(string.sub(f, 3))
      if m and m < minute - 120 then redis.call('HDEL', key, f) end
    end
  end
end
"""

# ARGV: prefix, name, group, now_ms, completed_ttl_s, completed_max_count, then entry_id, job_id pairs.
# Acks the entries and records the jobs completed; keeps at most completed_max_count per stream.
FINISH = (
    _COUNT_MINUTE
    + """
local prefix, name, group, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local ttl, max_count = tonumber(ARGV[5]), tonumber(ARGV[6])
local index = prefix .. name .. ':completed'
local ids = {}
for i = 7, #ARGV, 2 do
  local id, job_id = ARGV[i], ARGV[i + 1]
  ids[#ids + 1] = id
  if job_id ~= '' then
    local key = prefix .. 'job:' .. job_id
    redis.call('HSET', key, 'state', 'completed', 'finished_at', now)
    redis.call('HDEL', key, 'data', 'error')
    if ttl > 0 then redis.call('EXPIRE', key, ttl) end
    redis.call('ZADD', index, now, job_id)
  end
end
if #ids > 0 then
  redis.call('XACK', prefix .. name, group, unpack(ids))
  redis.call('HINCRBY', prefix .. name .. ':counters', 'processed', #ids)
  count_minute(prefix .. name .. ':throughput', 'c:', now, #ids)
end
local excess = redis.call('ZCARD', index) - max_count
if excess > 0 then
  for _, job_id in ipairs(redis.call('ZRANGE', index, 0, excess - 1)) do
    local key = prefix .. 'job:' .. job_id
    if redis.call('HGET', key, 'state') == 'completed' then redis.call('DEL', key) end
  end
  redis.call('ZREMRANGEBYRANK', index, 0, excess - 1)
end
return #ids
"""
)

# ARGV: prefix, name, group, consumer, now_ms, entry_id, job_id, data, error, kind (0 permanent,
# 1 retryable, 2 outage), max_attempts, delay_ms, dead_ttl, dead_max_count, traceback, outage_window_ms,
# outage_backoff_ms, outage_backoff_cap_ms.
# Each failure is kept in the job's error list (with its traceback) and counted for the minute.
# An outage (a dependency not answering) within the window since the job's first outage failure: retried
# with its own capped backoff, the attempt uncounted; returns 'outage'. Past the window it is an
# ordinary retryable failure. Retryable with attempts left: ack, state retrying, schedule in the
# delayed set; returns 'retrying'. Otherwise: dead letter; returns 'dead'.
FAIL = (
    _MARK_ACTIVE
    + _COUNT_MINUTE
    + """
local prefix, name, group, consumer, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local entry_id, job_id, data, err = ARGV[6], ARGV[7], ARGV[8], ARGV[9]
local kind, max_attempts, delay = tonumber(ARGV[10]), tonumber(ARGV[11]), tonumber(ARGV[12])
local key = prefix .. 'job:' .. job_id
local attempts = 0
if job_id ~= '' then attempts = tonumber(redis.call('HGET', key, 'attempts') or '0') end
redis.call('HINCRBY', prefix .. name .. ':counters', 'failed', 1)
count_minute(prefix .. name .. ':throughput', 'f:', now, 1)
if job_id ~= '' then
  local errors = prefix .. 'job-errors:' .. job_id
  redis.call('RPUSH', errors, cjson.encode({attempt = attempts, at = tonumber(now), error = err,
                                            traceback = ARGV[15] or '', consumer = consumer}))
  redis.call('LTRIM', errors, -20, -1)
  redis.call('EXPIRE', errors, math.max(tonumber(ARGV[13]), 86400))
end
if job_id ~= '' and kind == 2 then
  local since = tonumber(redis.call('HGET', key, 'outage_since') or '0')
  if since == 0 then
    since = tonumber(now)
    redis.call('HSET', key, 'outage_since', now)
  end
  if tonumber(now) - since <= tonumber(ARGV[16]) then
    local n = redis.call('HINCRBY', key, 'outage_retries', 1)
    local due = tonumber(now) + math.min(tonumber(ARGV[18]), tonumber(ARGV[17]) * 2 ^ (n - 1))
    redis.call('HINCRBY', key, 'attempts', -1)
    redis.call('XACK', prefix .. name, group, entry_id)
    redis.call('HSET', key, 'state', 'retrying', 'error', err, 'next_attempt_at', due, 'data', data)
    redis.call('ZADD', prefix .. name .. ':delayed', due, job_id)
    redis.call('HINCRBY', prefix .. name .. ':counters', 'retried', 1)
    return 'outage'
  end
  kind = 1
elseif job_id ~= '' then
  redis.call('HDEL', key, 'outage_since', 'outage_retries')
end
if job_id ~= '' and kind == 1 and attempts < max_attempts then
  local due = tonumber(now) + delay
  redis.call('XACK', prefix .. name, group, entry_id)
  redis.call('HSET', key, 'state', 'retrying', 'error', err, 'next_attempt_at', due, 'data', data)
  redis.call('ZADD', prefix .. name .. ':delayed', due, job_id)
  redis.call('HINCRBY', prefix .. name .. ':counters', 'retried', 1)
  return 'retrying'
end
dead_letter(prefix, name, group, entry_id, job_id, data, err, attempts, consumer, now, ARGV[13])
local index = prefix .. name .. ':dead-jobs'
local excess = redis.call('ZCARD', index) - tonumber(ARGV[14])
if excess > 0 then
  for _, old in ipairs(redis.call('ZRANGE', index, 0, excess - 1)) do
    local old_key = prefix .. 'job:' .. old
    if redis.call('HGET', old_key, 'state') == 'dead' then redis.call('DEL', old_key) end
  end
  redis.call('ZREMRANGEBYRANK', index, 0, excess - 1)
end
return 'dead'
"""
)

# ARGV: prefix, name, now_ms, limit. Re-adds due retries to the stream; returns how many moved.
MOVE_DUE = """
local prefix, name, now = ARGV[1], ARGV[2], ARGV[3]
local delayed = prefix .. name .. ':delayed'
local due = redis.call('ZRANGEBYSCORE', delayed, '-inf', now, 'LIMIT', 0, tonumber(ARGV[4]))
for _, job_id in ipairs(due) do
  local key = prefix .. 'job:' .. job_id
  local data = redis.call('HGET', key, 'data')
  if data and redis.call('HGET', key, 'state') == 'retrying' then
    local id = redis.call('XADD', prefix .. name, '*', 'job_id', job_id, 'data', data)
    redis.call('HSET', key, 'state', 'queued', 'entry_id', id)
    redis.call('HDEL', key, 'next_attempt_at')
  end
  redis.call('ZREM', delayed, job_id)
end
return #due
"""

# ARGV: prefix, name, group, then entry_id, job_id pairs: entries fetched but never started
# (shutdown). They go back to the stream as new entries, their attempt uncounted.
RELEASE = """
local prefix, name, group = ARGV[1], ARGV[2], ARGV[3]
local stream = prefix .. name
for i = 4, #ARGV, 2 do
  local id, job_id = ARGV[i], ARGV[i + 1]
  local entry = redis.call('XRANGE', stream, id, id)
  if #entry == 1 and redis.call('XACK', stream, group, id) == 1 then
    local fields = entry[1][2]
    local new_id = redis.call('XADD', stream, '*', unpack(fields))
    if job_id ~= '' then
      local key = prefix .. 'job:' .. job_id
      if redis.call('HGET', key, 'state') == 'active' then
        redis.call('HINCRBY', key, 'attempts', -1)
        redis.call('HSET', key, 'state', 'queued', 'entry_id', new_id)
      end
    end
  end
end
return 1
"""

# ARGV: prefix, name, dead entry id, now_ms. Re-enqueues a dead letter with its job id and the
# attempts reset, then deletes the dead-letter entry. Returns the new entry id or false.
RETRY_DEAD = """
local prefix, name, dead_id, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local dead = prefix .. name .. ':dead'
local entry = redis.call('XRANGE', dead, dead_id, dead_id)
if #entry == 0 then return false end
local fields = entry[1][2]
local job_id, data = '', ''
for i = 1, #fields, 2 do
  if fields[i] == 'job_id' then job_id = fields[i + 1] elseif fields[i] == 'data' then data = fields[i + 1] end
end
local id = redis.call('XADD', prefix .. name, '*', 'job_id', job_id, 'data', data)
if job_id ~= '' then
  local key = prefix .. 'job:' .. job_id
  redis.call('DEL', key)
  redis.call('HSET', key, 'state', 'queued', 'stream', name, 'entry_id', id, 'attempts', 0, 'reclaims', 0,
             'enqueued_at', now, 'data', data)
  redis.call('ZREM', prefix .. name .. ':dead-jobs', job_id)
end
redis.call('XDEL', dead, dead_id)
return id
"""


# ARGV: prefix, name, dead entry id, now_ms, new job id, new data. An operator's retry: the dead
# letter's payload is enqueued under a job id of its own (so no recent job of the same id swallows it),
# the dead letter deleted, and the old job's state told where it went. Returns the new entry id or false.
RETRY_DEAD_AS = """
local prefix, name, dead_id, now, new_job_id, data = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local dead = prefix .. name .. ':dead'
local entry = redis.call('XRANGE', dead, dead_id, dead_id)
if #entry == 0 then return false end
local fields = entry[1][2]
local old_job_id = ''
for i = 1, #fields, 2 do
  if fields[i] == 'job_id' then old_job_id = fields[i + 1] end
end
local key = prefix .. 'job:' .. new_job_id
if redis.call('EXISTS', key) == 1 then return false end
local id = redis.call('XADD', prefix .. name, '*', 'job_id', new_job_id, 'data', data)
redis.call('HSET', key, 'state', 'queued', 'stream', name, 'entry_id', id, 'attempts', 0, 'reclaims', 0,
           'enqueued_at', now, 'data', data)
redis.call('HINCRBY', prefix .. name .. ':counters', 'enqueued', 1)
if old_job_id ~= '' then
  local old = prefix .. 'job:' .. old_job_id
  if redis.call('HGET', old, 'state') == 'dead' then redis.call('HSET', old, 'retried_as', new_job_id) end
  redis.call('ZREM', prefix .. name .. ':dead-jobs', old_job_id)
end
redis.call('XDEL', dead, dead_id)
return id
"""

# ARGV: prefix, name, job id. Moves a retrying job to the stream now instead of at its due time.
# Returns the new entry id, or false when the job is not retrying.
RUN_NOW = """
local prefix, name, job_id = ARGV[1], ARGV[2], ARGV[3]
local key = prefix .. 'job:' .. job_id
local data = redis.call('HGET', key, 'data')
if not data or redis.call('HGET', key, 'state') ~= 'retrying' or redis.call('HGET', key, 'stream') ~= name then
  return false
end
local id = redis.call('XADD', prefix .. name, '*', 'job_id', job_id, 'data', data)
redis.call('HSET', key, 'state', 'queued', 'entry_id', id)
redis.call('HDEL', key, 'next_attempt_at')
redis.call('ZREM', prefix .. name .. ':delayed', job_id)
return id
"""


# ARGV: prefix, name. What the dashboard shows of one stream, in one call (a pipeline of these serves
# every stream in one round trip): length, paused, dead letters, delayed, completed, the counters and the
# throughput hash (flat), then per group: name, pending, lag, last-delivered id, oldest pending id,
# and its consumers flat (name, pending, idle). Read only.
STREAM_OVERVIEW = """
local prefix, name = ARGV[1], ARGV[2]
local stream = prefix .. name
local out = {
  redis.call('XLEN', stream),
  redis.call('EXISTS', prefix .. name .. ':paused'),
  redis.call('XLEN', prefix .. name .. ':dead'),
  redis.call('ZCARD', prefix .. name .. ':delayed'),
  redis.call('ZCARD', prefix .. name .. ':completed'),
  redis.call('HGETALL', prefix .. name .. ':counters'),
  redis.call('HGETALL', prefix .. name .. ':throughput'),
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
"""


class ScriptPipeline:
    """Script calls (and plain commands) sent together in one round trip, scripts by SHA.

    redis-py's Script objects, queued on a pipeline, make execute() ask the server SCRIPT EXISTS
    first: a second round trip on every publish and every acknowledgement batch. Here calls go out
    as EVALSHA; the rare call whose script the server no longer has (after a restart or SCRIPT
    FLUSH) did not run, so it is re-run on its own, which loads the script. A single command (one
    publish, most acknowledgement batches) goes out as a plain command: redis-py's pipeline
    machinery costs more CPU than the command itself.
    """

    def __init__(self, client: Redis) -> None:
        self._client = client
        self._commands: list[tuple[Any, ...]] = []
        self._calls: dict[int, tuple[AsyncScript, list[Any]]] = {}

    def call(self, script: AsyncScript, args: list[Any]) -> None:
        self._calls[len(self._commands)] = (script, args)
        self._commands.append(("EVALSHA", script.sha, 0, *args))

    def command(self, *args: Any) -> None:
        """A plain command, e.g. command("XACK", stream, group, entry_id)."""
        self._commands.append(args)

    async def _send(self) -> list[Any]:
        if len(self._commands) == 1:
            try:
                return [await self._client.execute_command(*self._commands[0])]
            except NoScriptError as exc:
                return [exc]
        pipe = self._client.pipeline(transaction=False)
        for command in self._commands:
            pipe.execute_command(*command)
        try:
            replies: list[Any] = await pipe.execute(raise_on_error=False)
        finally:
            await pipe.reset()
        return replies

    async def execute(self) -> list[Any]:
        replies = await self._send()
        for position, (script, args) in self._calls.items():
            if isinstance(replies[position], NoScriptError):
                replies[position] = await script(args=args)
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply
        return replies

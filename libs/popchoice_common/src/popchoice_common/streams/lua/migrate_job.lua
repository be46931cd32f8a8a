-- Shared by the migrate-keys scripts (prepended to them): moves one job's state hash and error list
-- from the old layout to the new, keeping their TTLs (RENAME). A state the new layout already holds
-- (the job was published again after the upgrade) is kept, and the old one dropped.
local function move_job(old_job, new_job, old_errors, new_errors)
  if redis.call('EXISTS', old_job) == 1 then
    if redis.call('EXISTS', new_job) == 0 then
      redis.call('RENAME', old_job, new_job)
    else
      redis.call('DEL', old_job)
    end
  end
  if redis.call('EXISTS', old_errors) == 1 then
    if redis.call('EXISTS', new_errors) == 0 then
      redis.call('RENAME', old_errors, new_errors)
    else
      redis.call('DEL', old_errors)
    end
  end
end

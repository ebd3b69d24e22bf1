#include "scripts.h"

#include "landscape/redis/reply.h"
#include "landscape/redis/schema.h"

namespace landscape::redis {

Result<Reply> Script::Run(Connection& c, const std::vector<std::string>& keys,
                          const std::vector<std::string>& args) const {
  std::string sha;
  {
    std::lock_guard<std::mutex> lock(mu_);
    sha = sha_;
  }
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (sha.empty()) {
      LS_ASSIGN_OR_RETURN(Reply loaded, c.Command({"SCRIPT", "LOAD", source_}));
      LS_ASSIGN_OR_RETURN(sha, ParseString(loaded.view(), std::string("SCRIPT LOAD ") + name_));
      std::lock_guard<std::mutex> lock(mu_);
      sha_ = sha;
    }
    std::vector<std::string> cmd{"EVALSHA", sha, std::to_string(keys.size())};
    cmd.insert(cmd.end(), keys.begin(), keys.end());
    cmd.insert(cmd.end(), args.begin(), args.end());
    LS_ASSIGN_OR_RETURN(Reply r, c.Command(cmd));
    if (r.is_error() && r.view().error_code() == "NOSCRIPT") {
      sha.clear();  // Redis restarted (or flushed its scripts): load it again
      continue;
    }
    LS_RETURN_IF_ERROR(CheckReply(r.view(), std::string("script ") + name_));
    return r;
  }
  return core::Internal(std::string("redis: script ") + name_ + " cannot be loaded");
}

namespace scripts {

namespace {

std::string BucketsLua() {
  std::string s = "local BUCKETS_MS = {";
  for (double b : kTileLatencyBuckets) s += std::to_string(static_cast<long long>(b * 1000)) + ",";
  return s + "}\n";
}

// Helpers every job script shares. KEYS[1..5] = job, events, results, stats, queue.
const char* kPrelude = R"LUA(
local JOB, EVENTS, RESULTS, STATS, QUEUE = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local FINAL = {SUCCEEDED = true, FAILED = true, CANCELLED = true}

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Appends an event with the job's progress after it. The cap is above what a
-- job can emit (one event per tile plus a few state changes): nothing a
-- watcher needs is ever trimmed.
local function emit(...)
  local h = redis.call('HMGET', JOB, 'points_done', 'points_total', 'tiles_done', 'tiles_total', 'started_ms')
  local now = now_ms()
  local started = tonumber(h[5]) or 0
  local running = 0
  if started > 0 then running = now - started end
  local cap = (tonumber(h[4]) or 0) + 1024
  redis.call('XADD', EVENTS, 'MAXLEN', '~', cap, '*', 'ts', now, 'done', h[1] or 0, 'total', h[2] or 0,
             'tdone', h[3] or 0, 'ttotal', h[4] or 0, 'running_ms', running, ...)
end

-- Acknowledges a queue entry and deletes it (the queue holds only the backlog).
local function ack(group, entry)
  if entry == nil or entry == '' then return 0 end
  local n = redis.call('XACK', QUEUE, group, entry)
  redis.call('XDEL', QUEUE, entry)
  return n
end

-- Moves a job that is not final to `to`, counts it and emits the event. A
-- final state stamps ended_ms and starts the retention of every job key.
local function transition(to, msg, field)
  local from = redis.call('HGET', JOB, 'state')
  if (not from) or FINAL[from] then return false end
  local now = now_ms()
  redis.call('HSET', JOB, 'state', to)
  redis.call('HINCRBY', STATS, 'jobs:' .. from, -1)
  redis.call('HINCRBY', STATS, 'jobs:' .. to, 1)
  if to == 'RUNNING' then redis.call('HSET', JOB, 'started_ms', now) end
  if FINAL[to] then redis.call('HSET', JOB, 'ended_ms', now, 'error', msg or '', 'error_field', field or '') end
  emit('type', 'state', 'state', to, 'message', msg or '', 'field', field or '')
  if FINAL[to] then
    local ttl = tonumber(redis.call('HGET', JOB, 'retention_s')) or 86400
    redis.call('EXPIRE', JOB, ttl)
    redis.call('EXPIRE', EVENTS, ttl)
    redis.call('EXPIRE', RESULTS, ttl)
    local req = redis.call('HGET', JOB, 'request_key')
    if req and req ~= '' then redis.call('EXPIRE', req, ttl) end
    -- The files the job made (directions, projection) live at least as long as
    -- the job: their keys are {p}artifact:{sha256}, the ref "artifact:{sha256}"
    -- under the job key's prefix. GT only lengthens a life.
    local id = redis.call('HGET', JOB, 'id') or ''
    local prefix = string.sub(JOB, 1, #JOB - #id - 4)
    for _, f in ipairs({'dir_artifact', 'proj_artifact'}) do
      local ref = redis.call('HGET', JOB, f)
      if ref and string.sub(ref, 1, 9) == 'artifact:' then redis.call('EXPIRE', prefix .. ref, ttl, 'GT') end
    end
  end
  return true
end
)LUA";

std::string JobScript(const char* body) { return std::string(kPrelude) + BucketsLua() + body; }

}  // namespace

const Script& Submit() {
  static const Script s("submit", JobScript(R"LUA(
local TENANT_JOBS, REQUEST = KEYS[6], KEYS[7]
local id, tenant, rid, spec, points, retention = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
if rid ~= '' then
  local existing = redis.call('GET', REQUEST)
  if existing then return {0, existing} end
end
if redis.call('EXISTS', JOB) == 1 then return redis.error_reply('ERR job id ' .. id .. ' is taken') end
local now = now_ms()
local req_key = ''
if rid ~= '' then req_key = REQUEST end
redis.call('HSET', JOB, 'id', id, 'tenant', tenant, 'request_id', rid, 'request_key', req_key, 'spec', spec,
           'state', 'QUEUED', 'created_ms', now, 'points_total', points, 'points_done', 0, 'tiles_total', 0,
           'tiles_done', 0, 'retention_s', retention)
if rid ~= '' then redis.call('SET', REQUEST, id) end
redis.call('ZADD', TENANT_JOBS, now, id)
redis.call('XADD', QUEUE, '*', 'type', 'prepare', 'job', id)
redis.call('HINCRBY', STATS, 'jobs:QUEUED', 1)
emit('type', 'state', 'state', 'QUEUED', 'message', '', 'field', '')
return {1, id}
)LUA"));
  return s;
}

const Script& BeginPrepare() {
  static const Script s("begin_prepare", JobScript(R"LUA(
local state = redis.call('HGET', JOB, 'state')
if state == 'QUEUED' then
  transition('PREPARING')
  return 1
end
if state == 'PREPARING' then return 1 end  -- a reclaimed preparation runs again
ack(ARGV[1], ARGV[2])
return 0
)LUA"));
  return s;
}

const Script& FinishPrepare() {
  static const Script s("finish_prepare", JobScript(R"LUA(
ack(ARGV[1], ARGV[2])
if redis.call('HGET', JOB, 'state') ~= 'PREPARING' then return 0 end
local id = redis.call('HGET', JOB, 'id')
local total = tonumber(redis.call('HGET', JOB, 'points_total'))
local size = tonumber(ARGV[4])
local n, b = 0, 0
while b < total do
  local e = math.min(total, b + size)
  redis.call('XADD', QUEUE, '*', 'type', 'tile', 'job', id, 'tile', n, 'begin', b, 'end', e)
  n = n + 1
  b = e
end
redis.call('HSET', JOB, 'tiles_total', n, 'tile_size', size, 'dir_artifact', ARGV[3])
if ARGV[5] ~= '' then redis.call('HSET', JOB, 'proj_artifact', ARGV[5]) end
-- The files the job made belong to its tenant: grant it on each ({p}artifact:{sha256} field t:{tenant}).
local tenant = redis.call('HGET', JOB, 'tenant') or 'default'
local prefix = string.sub(JOB, 1, #JOB - #id - 4)
for _, ref in ipairs({ARGV[3], ARGV[5]}) do
  if string.sub(ref, 1, 9) == 'artifact:' and redis.call('EXISTS', prefix .. ref) == 1 then
    redis.call('HSET', prefix .. ref, 't:' .. tenant, 1)
  end
end
for i = 6, #ARGV - 1, 2 do redis.call('HSET', JOB, 'attr:' .. ARGV[i], ARGV[i + 1]) end
redis.call('HINCRBY', STATS, 'tiles_queued', n)
transition('RUNNING')
return n
)LUA"));
  return s;
}

const Script& CompleteTile() {
  static const Script s("complete_tile", JobScript(R"LUA(
ack(ARGV[1], ARGV[2])
if redis.call('HGET', JOB, 'state') ~= 'RUNNING' then return 0 end
if redis.call('HSETNX', RESULTS, ARGV[3], ARGV[6]) == 0 then return 1 end
local points = tonumber(ARGV[5]) - tonumber(ARGV[4])
redis.call('HINCRBY', JOB, 'points_done', points)
local done = redis.call('HINCRBY', JOB, 'tiles_done', 1)
local ms = tonumber(ARGV[7])
redis.call('HINCRBY', STATS, 'tiles_done', 1)
redis.call('HINCRBY', STATS, 'tile_ms_sum', ms)
local bucket = 'inf'
for i, bound in ipairs(BUCKETS_MS) do
  if ms <= bound then bucket = tostring(i - 1) break end
end
redis.call('HINCRBY', STATS, 'tile_bucket:' .. bucket, 1)
emit('type', 'tile', 'tile', ARGV[3], 'begin', ARGV[4], 'end', ARGV[5], 'values', ARGV[6])
if done >= tonumber(redis.call('HGET', JOB, 'tiles_total')) then
  transition('SUCCEEDED')
  return 3
end
return 2
)LUA"));
  return s;
}

const Script& FailJob() {
  static const Script s("fail_job", JobScript(R"LUA(
ack(ARGV[1], ARGV[2])
if transition('FAILED', ARGV[3], ARGV[4]) then return 1 end
return 0
)LUA"));
  return s;
}

const Script& DeadLetter() {
  static const Script s("dead_letter", JobScript(R"LUA(
local DEAD = KEYS[6]
if ack(ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('XADD', DEAD, 'MAXLEN', '~', 10000, '*', 'entry', ARGV[2], 'job', ARGV[3], 'kind', ARGV[4],
           'tile', ARGV[5], 'deliveries', ARGV[6], 'reason', ARGV[7])
redis.call('HINCRBY', STATS, 'dead_letters', 1)
transition('FAILED', ARGV[7], '')
return 1
)LUA"));
  return s;
}

const Script& CancelJob() {
  static const Script s("cancel_job", JobScript(R"LUA(
transition('CANCELLED', ARGV[1], '')
return redis.call('HGET', JOB, 'state') or ''
)LUA"));
  return s;
}

const Script& Heartbeat() {
  static const Script s("heartbeat", R"LUA(
local queue, job = KEYS[1], KEYS[2]
local group, consumer, entry = ARGV[1], ARGV[2], ARGV[3]
local p = redis.call('XPENDING', queue, group, entry, entry, 1)
local owned = 0
if p[1] and p[1][2] == consumer then
  redis.call('XCLAIM', queue, group, consumer, 0, entry, 'JUSTID')
  owned = 1
end
return {owned, redis.call('HGET', job, 'state') or ''}
)LUA");
  return s;
}

const Script& TakeTask() {
  static const Script s("take_task", R"LUA(
local r = redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', 1, 'STREAMS', KEYS[1], '>')
if not r then return nil end
local entry = r[1][2][1]
local job = ''
local fields = entry[2]
for i = 1, #fields, 2 do
  if fields[i] == 'job' then job = fields[i + 1] end
end
-- The job key is derived from the entry: the schema's {prefix}job:{id}.
local state = redis.call('HGET', ARGV[3] .. 'job:' .. job, 'state') or ''
return {entry[1], fields, state}
)LUA");
  return s;
}

const Script& CommitArtifact() {
  static const Script s("commit_artifact", R"LUA(
local upload, artifact = KEYS[1], KEYS[2]
local size, chunks, ttl, tenant = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local stored = 1
if redis.call('EXISTS', artifact) == 1 then
  redis.call('DEL', upload)
  redis.call('EXPIRE', artifact, ttl, 'GT')
  stored = 0
else
  if redis.call('EXISTS', upload) == 1 then
    redis.call('HSET', upload, 'size', size, 'chunks', chunks)
    redis.call('RENAME', upload, artifact)
  else
    redis.call('HSET', artifact, 'size', size, 'chunks', chunks)
  end
  redis.call('EXPIRE', artifact, ttl)
end
-- The uploader may see it from now on (a field of the artifact: it expires with it).
if tenant ~= nil and tenant ~= '' then redis.call('HSET', artifact, 't:' .. tenant, 1) end
return stored
)LUA");
  return s;
}

}  // namespace scripts

}  // namespace landscape::redis

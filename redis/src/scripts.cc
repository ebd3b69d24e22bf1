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

// Helpers every script shares: Redis's clock in milliseconds.
const char* kCommon = R"LUA(
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
)LUA";

// Helpers every job script shares. KEYS[1..5] = job, events, results, stats, queue.
const char* kPrelude = R"LUA(
local JOB, EVENTS, RESULTS, STATS, QUEUE = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local FINAL = {SUCCEEDED = true, FAILED = true, CANCELLED = true}

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

-- The key prefix, from the queue key {p}queue.
local QP = string.sub(QUEUE, 1, #QUEUE - 5)

-- A tile of `tenant` left flight (done, skipped, failed or dead-lettered):
-- one slot of its max_tiles_in_flight quota is free again. A tenant held at
-- its quota goes back to the scheduler, and a token owed since tokens were
-- dropped while it was held is put back (docs/service.md, Quotas).
local function release_slot(tenant)
  local n = redis.call('HINCRBY', QP .. 'inflight', tenant, -1)
  if n < 0 then
    redis.call('HSET', QP .. 'inflight', tenant, 0)
    n = 0
  end
  local q = tonumber(redis.call('HGET', QP .. 'quota:inflight', tenant)) or 0
  if q > 0 and n >= q then return end
  local held = redis.call('ZSCORE', QP .. 'held', tenant)
  if held then
    redis.call('ZREM', QP .. 'held', tenant)
    local clock = tonumber(redis.call('GET', QP .. 'vclock')) or 0
    redis.call('ZADD', QP .. 'sched', math.max(tonumber(held), clock), tenant)
  end
  if q > 0 and (tonumber(redis.call('GET', QP .. 'owed')) or 0) > 0 then
    redis.call('DECR', QP .. 'owed')
    redis.call('XADD', QUEUE, '*', 'type', 'token')
  end
end

-- Acknowledges a queue entry and deletes it (the queue holds only the backlog);
-- a tile's slot is released once, with the entry's binding.
local function ack(group, entry)
  if entry == nil or entry == '' then return 0 end
  local n = redis.call('XACK', QUEUE, group, entry)
  redis.call('XDEL', QUEUE, entry)
  local bound = redis.call('HGET', QUEUE .. ':tasks', entry)
  if bound then
    redis.call('HDEL', QUEUE .. ':tasks', entry)
    local f = cjson.decode(bound)
    if f[2] == 'tile' and f[11] == 'tenant' then release_slot(f[12]) end
  end
  return n
end

-- The key prefix, from the job key {p}job:{id}.
local function prefix_of(id) return string.sub(JOB, 1, #JOB - #id - 4) end

-- Adds `delta` to the tenant's usage counter `what` (jobs: active jobs;
-- points: points of active jobs not yet done), never below 0.
local function usage_add(tenant, what, delta)
  if delta == 0 then return end  -- (a Lua -0 would reach Redis as "-0", not an integer)
  local n = redis.call('HINCRBY', QP .. 'usage', tenant .. ':' .. what, delta)
  if n < 0 then redis.call('HSET', QP .. 'usage', tenant .. ':' .. what, 0) end
end

-- Makes job `id` of `tenant` ready in the scheduling index: its tenant's ready
-- set ({p}tenant:{t}:ready, by sched_score: priority then age) and, when the
-- tenant was idle, {p}sched at max(its own last virtual time, the clock), so
-- that idling earns no credit.
local function make_ready(prefix, tenant, id, score)
  redis.call('ZADD', prefix .. 'tenant:' .. tenant .. ':ready', score, id)
  if redis.call('ZSCORE', prefix .. 'held', tenant) then return end  -- back when a slot frees
  if not redis.call('ZSCORE', prefix .. 'sched', tenant) then
    local own = tonumber(redis.call('HGET', prefix .. 'vtime', tenant)) or 0
    local clock = tonumber(redis.call('GET', prefix .. 'vclock')) or 0
    redis.call('ZADD', prefix .. 'sched', math.max(own, clock), tenant)
  end
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
  if FINAL[to] then
    redis.call('HSET', JOB, 'ended_ms', now, 'error', msg or '', 'error_field', field or '')
    local h = redis.call('HMGET', JOB, 'tenant', 'points_total', 'points_done')
    local tenant = h[1] or 'default'
    usage_add(tenant, 'jobs', -1)
    usage_add(tenant, 'points', -((tonumber(h[2]) or 0) - (tonumber(h[3]) or 0)))
  end
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
    redis.call('ZREM', prefix .. 'tenant:' .. (redis.call('HGET', JOB, 'tenant') or '') .. ':ready', id)
    for _, f in ipairs({'dir_artifact', 'proj_artifact'}) do
      local ref = redis.call('HGET', JOB, f)
      if ref and string.sub(ref, 1, 9) == 'artifact:' then redis.call('EXPIRE', prefix .. ref, ttl, 'GT') end
    end
  end
  return true
end
)LUA";

std::string JobScript(const char* body) { return std::string(kCommon) + kPrelude + BucketsLua() + body; }

std::string WaitBucketsLua() {
  std::string s = "local WAIT_BUCKETS_MS = {";
  for (double b : kQueueWaitBuckets) s += std::to_string(static_cast<long long>(b * 1000)) + ",";
  return s + "}\n";
}

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
-- Quotas (0: none), checked against the tenant's usage atomically with the submit.
local max_jobs, max_points = tonumber(ARGV[9]) or 0, tonumber(ARGV[10]) or 0
local usage = redis.call('HMGET', QP .. 'usage', tenant .. ':jobs', tenant .. ':points')
local active, queued = tonumber(usage[1]) or 0, tonumber(usage[2]) or 0
if max_jobs > 0 and active + 1 > max_jobs then return {2, 'max_jobs', active, max_jobs} end
if max_points > 0 and queued + tonumber(points) > max_points then return {2, 'max_queued_points', queued, max_points} end
usage_add(tenant, 'jobs', 1)
usage_add(tenant, 'points', tonumber(points))
local max_inflight = tonumber(ARGV[11]) or 0
if max_inflight > 0 then
  redis.call('HSET', QP .. 'quota:inflight', tenant, max_inflight)
else
  redis.call('HDEL', QP .. 'quota:inflight', tenant)
end
local now = now_ms()
local req_key = ''
if rid ~= '' then req_key = REQUEST end
redis.call('HSET', JOB, 'id', id, 'tenant', tenant, 'request_id', rid, 'request_key', req_key, 'spec', spec,
           'state', 'QUEUED', 'created_ms', now, 'points_total', points, 'points_done', 0, 'tiles_total', 0,
           'tiles_done', 0, 'retention_s', retention)
if rid ~= '' then redis.call('SET', REQUEST, id) end
redis.call('ZADD', TENANT_JOBS, now, id)
-- Priority first (higher first), then order of submission ({p}sched_seq counts submits; scores stay exact
-- doubles for |priority| <= 100).
local priority = tonumber(ARGV[7]) or 0
local prefix = prefix_of(id)
local score = -priority * 1e13 + redis.call('INCR', prefix .. 'sched_seq')
redis.call('HSET', JOB, 'priority', priority, 'sched_score', score, 'prep_ready', 1)
local weight = tonumber(ARGV[8])
if weight and weight > 0 then redis.call('HSET', prefix .. 'weights', tenant, weight) end
make_ready(prefix, tenant, id, score)
-- One token per task: the stream's length is the backlog (what the autoscaler reads).
redis.call('XADD', QUEUE, '*', 'type', 'token')
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
-- The tiles are not queued one by one: the job's cursor (next_pos, over the
-- bit-reversed tile indices: coarse to fine) hands them out; the stream gets
-- one token per tile.
local n = math.ceil(total / size)
local bits = 0
while 2 ^ bits < n do bits = bits + 1 end
for _ = 1, n do redis.call('XADD', QUEUE, '*', 'type', 'token') end
redis.call('HSET', JOB, 'tiles_total', n, 'tile_size', size, 'dir_artifact', ARGV[3], 'tiles_left', n, 'next_pos', 0,
           'order_bits', bits)
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
if n > 0 then make_ready(prefix, tenant, id, tonumber(redis.call('HGET', JOB, 'sched_score')) or 0) end
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
local tenant = redis.call('HGET', JOB, 'tenant') or 'default'
usage_add(tenant, 'points', -points)
local device = ARGV[8]
if device == nil or device == '' then device = 'cpu' end
redis.call('HINCRBY', STATS, 'tenant:' .. tenant .. ':tiles:' .. device, 1)
redis.call('HINCRBY', STATS, 'tenant:' .. tenant .. ':compute_ms:' .. device, ms)
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
redis.call('HINCRBY', STATS, 'tenant:' .. (redis.call('HGET', JOB, 'tenant') or 'default') .. ':dead_letters', 1)
transition('FAILED', ARGV[7], '')
return 1
)LUA"));
  return s;
}

const Script& SkipTask() {
  static const Script s("skip_task", JobScript(R"LUA(
return ack(ARGV[1], ARGV[2])
)LUA"));
  return s;
}

const Script& CrashTask() {
  static const Script s("crash_task", JobScript(R"LUA(
local DEAD = KEYS[6]
local group, entry, consumer, kind, tile = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local max_crashes, idle_ms, why = tonumber(ARGV[6]), ARGV[7], ARGV[8]
local p = redis.call('XPENDING', QUEUE, group, entry, entry, 1)
if (not p[1]) or p[1][2] ~= consumer then return 0 end  -- not ours any more: nothing to count
local what = 'the preparation'
local field = 'crashes:prepare'
if kind == 'tile' then
  what = 'tile ' .. tile
  field = 'crashes:' .. tile
end
local n = redis.call('HINCRBY', JOB, field, 1)
if n < max_crashes then
  -- Released: idle as if abandoned, so the next reclaim (by any worker) takes it.
  redis.call('XCLAIM', QUEUE, group, consumer, 0, entry, 'IDLE', idle_ms, 'JUSTID')
  return 1
end
local reason = what .. ' crashed the evaluation process ' .. n .. ' times (last: ' .. why ..
               '); moved to the dead-letter stream'
ack(group, entry)
redis.call('XADD', DEAD, 'MAXLEN', '~', 10000, '*', 'entry', entry, 'job', redis.call('HGET', JOB, 'id') or '',
           'kind', kind, 'tile', tile, 'deliveries', p[1][4], 'crashes', n, 'reason', reason)
redis.call('HINCRBY', STATS, 'dead_letters', 1)
redis.call('HINCRBY', STATS, 'tenant:' .. (redis.call('HGET', JOB, 'tenant') or 'default') .. ':dead_letters', 1)
transition('FAILED', reason, '')
return 2
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

// The fair scheduler, shared by take_task and resolve_task. KEYS[1] = queue;
// ARGV group consumer prefix. Keys of the index derive from the prefix.
static const char* const kSchedulerBody = R"LUA(
local QUEUE, GROUP, CONSUMER, P = KEYS[1], ARGV[1], ARGV[2], ARGV[3]
local TASKS, SCHED, HELD, INFLIGHT = QUEUE .. ':tasks', P .. 'sched', P .. 'held', P .. 'inflight'

-- A job's queue wait (submit to its first task taken), per tenant: a histogram in {p}stats.
local function count_wait(tenant, created_ms)
  local ms = math.max(0, now_ms() - (tonumber(created_ms) or 0))
  local bucket = 'inf'
  for i, bound in ipairs(WAIT_BUCKETS_MS) do
    if ms <= bound then bucket = tostring(i - 1) break end
  end
  local STATS = P .. 'stats'
  redis.call('HINCRBY', STATS, 'tenant:' .. tenant .. ':wait_bucket:' .. bucket, 1)
  redis.call('HINCRBY', STATS, 'tenant:' .. tenant .. ':wait_ms_sum', ms)
end

-- Drops a token that has no task: acknowledged and deleted. While a tenant is
-- held at its tiles-in-flight quota, the token may stand for one of its tiles:
-- it is owed, and put back when a slot frees.
local function drop_token(entry)
  redis.call('XACK', QUEUE, GROUP, entry)
  redis.call('XDEL', QUEUE, entry)
  if redis.call('ZCARD', HELD) > 0 then
    redis.call('INCR', P .. 'owed')
  else
    redis.call('DEL', P .. 'owed')
  end
end

local function bitrev(x, bits)
  local r = 0
  for _ = 1, bits do
    r = r * 2 + x % 2
    x = math.floor(x / 2)
  end
  return r
end

-- The next task, fairly: the tenant with the least virtual time, its first
-- ready job (priority, then age), that job's next task: its preparation, or
-- its next tile in bit-reversed order (coarse to fine). Serving a task adds
-- 1/weight to the tenant's virtual time. Stale members (ended jobs, idle
-- tenants) are dropped on the way. -> {fields, state} or nil: nothing ready.
local function pick()
  for _ = 1, 1000 do
    local top = redis.call('ZRANGE', SCHED, 0, 0, 'WITHSCORES')
    if #top == 0 then return nil end
    local tenant, vt = top[1], tonumber(top[2])
    local READY = P .. 'tenant:' .. tenant .. ':ready'
    local first = redis.call('ZRANGE', READY, 0, 0)
    local quota = tonumber(redis.call('HGET', P .. 'quota:inflight', tenant)) or 0
    if #first == 0 then
      redis.call('ZREM', SCHED, tenant)
      redis.call('HSET', P .. 'vtime', tenant, vt)
    elseif quota > 0 and (tonumber(redis.call('HGET', INFLIGHT, tenant)) or 0) >= quota then
      redis.call('ZREM', SCHED, tenant)  -- held at its quota until one of its tiles ends
      redis.call('ZADD', HELD, vt, tenant)
    else
      local id = first[1]
      local JOB = P .. 'job:' .. id
      local h = redis.call('HMGET', JOB, 'state', 'prep_ready', 'tiles_total', 'next_pos', 'order_bits', 'tiles_left',
                           'tile_size', 'points_total', 'created_ms')
      local fields = nil
      if h[1] == 'QUEUED' and h[2] == '1' then
        redis.call('HSET', JOB, 'prep_ready', 0)
        redis.call('ZREM', READY, id)  -- ready again when prepared
        count_wait(tenant, h[9])
        fields = {'type', 'prepare', 'job', id}
      elseif h[1] == 'RUNNING' and (tonumber(h[6]) or 0) > 0 then
        local n, pos, bits = tonumber(h[3]), tonumber(h[4]), tonumber(h[5])
        local t = bitrev(pos, bits)
        while t >= n do
          pos = pos + 1
          t = bitrev(pos, bits)
        end
        redis.call('HSET', JOB, 'next_pos', pos + 1)
        if redis.call('HINCRBY', JOB, 'tiles_left', -1) <= 0 then redis.call('ZREM', READY, id) end
        local size, total = tonumber(h[7]), tonumber(h[8])
        local b = t * size
        -- fields[11..12] name the tenant: acknowledging the entry frees its slot (ack in the job scripts).
        fields = {'type', 'tile', 'job', id, 'tile', tostring(t), 'begin', tostring(b), 'end',
                  tostring(math.min(total, b + size)), 'tenant', tenant}
        redis.call('HINCRBY', INFLIGHT, tenant, 1)
      else
        redis.call('ZREM', READY, id)  -- ended or expired
      end
      if fields then
        local w = tonumber(redis.call('HGET', P .. 'weights', tenant)) or 1
        if w <= 0 then w = 1 end
        redis.call('ZADD', SCHED, vt + 1 / w, tenant)
        redis.call('SET', P .. 'vclock', vt)
        return {fields, h[1]}
      end
    end
  end
  return nil
end

-- The task behind queue entry `entry` (delivered to this consumer): the one
-- it was bound to, else a new one bound now; with the entry's delivery count.
-- nil: the entry is no longer this consumer's (its task finished and it was
-- acknowledged, or another consumer claimed it since it was delivered here),
-- or nothing is ready, and then the entry (a surplus token of a job that
-- ended) is acknowledged and deleted.
--
-- The ownership check comes first: a worker that reclaimed an entry in one
-- round trip and resolves it in the next must not bind a fresh task to an
-- entry acknowledged in between (its first task done); that task would ride
-- on a token nobody holds and never be computed.
local function resolve(entry)
  local p = redis.call('XPENDING', QUEUE, GROUP, entry, entry, 1)
  if (not p[1]) or p[1][2] ~= CONSUMER then return nil end
  local deliveries = p[1][4]
  local bound = redis.call('HGET', TASKS, entry)
  if bound then
    local fields = cjson.decode(bound)
    local state = redis.call('HGET', P .. 'job:' .. fields[4], 'state') or ''
    return {entry, fields, state, deliveries}
  end
  local got = pick()
  if got then
    redis.call('HSET', TASKS, entry, cjson.encode(got[1]))
    return {entry, got[1], got[2], deliveries}
  end
  drop_token(entry)
  return nil
end
)LUA";

static std::string Scheduler() { return std::string(kCommon) + WaitBucketsLua() + kSchedulerBody; }

const Script& TakeTask() {
  static const Script s("take_task", Scheduler() + R"LUA(
local r = redis.call('XREADGROUP', 'GROUP', GROUP, CONSUMER, 'COUNT', 1, 'STREAMS', QUEUE, '>')
if not r then return nil end
local got = resolve(r[1][2][1][1])
if got then return got end
-- Nothing is ready: every unread token is surplus (each ready task has its own
-- token, added with it). Drop a bounded batch; the caller asks again.
local more = redis.call('XREADGROUP', 'GROUP', GROUP, CONSUMER, 'COUNT', 5000, 'STREAMS', QUEUE, '>')
local dropped = 1
if more then
  for _, e in ipairs(more[1][2]) do
    drop_token(e[1])
    dropped = dropped + 1
  end
end
return dropped
)LUA");
  return s;
}

const Script& ResolveTask() {
  static const Script s("resolve_task", Scheduler() + R"LUA(
return resolve(ARGV[4])
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

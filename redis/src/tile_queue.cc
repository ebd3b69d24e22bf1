#include "landscape/redis/tile_queue.h"

#include "landscape/redis/records.h"
#include "landscape/redis/reply.h"
#include "scripts.h"

namespace landscape::redis {

namespace {

Result<core::Task> TaskFromEntry(const StreamEntry& e) {
  core::Task t;
  t.id = e.id;
  t.job_id = e.Get("job");
  const std::string& type = e.Get("type");
  if (type == "prepare") {
    t.kind = core::Task::Kind::kPrepare;
  } else if (type == "tile") {
    t.kind = core::Task::Kind::kTile;
    LS_ASSIGN_OR_RETURN(t.tile.index, ParseStoredInt(e.Get("tile"), "queue entry " + e.id + " tile"));
    LS_ASSIGN_OR_RETURN(t.tile.begin, ParseStoredInt(e.Get("begin"), "queue entry " + e.id + " begin"));
    LS_ASSIGN_OR_RETURN(t.tile.end, ParseStoredInt(e.Get("end"), "queue entry " + e.id + " end"));
  } else {
    return core::DataLoss("queue entry " + e.id + ": unknown type '" + type + "'");
  }
  if (t.job_id.empty()) return core::DataLoss("queue entry " + e.id + " names no job");
  return t;
}

// A take_task/resolve_task reply {entry, {field, value, ...}, state, deliveries} as a task.
// `entry`, when given, receives the token's entry (id and the bound task's fields) as decoded.
Result<core::Task> TaskFromResolved(const ReplyView& r, StreamEntry* entry = nullptr) {
  if (r.size() != 4) return core::Internal("redis: take task: unexpected reply " + r.Describe());
  StreamEntry local;
  StreamEntry& e = entry != nullptr ? *entry : local;
  e.id = std::string(r[0].str());
  const ReplyView f = r[1];
  for (size_t i = 0; i + 1 < f.size(); i += 2) e.fields.emplace_back(std::string(f[i].str()), std::string(f[i + 1].str()));
  LS_ASSIGN_OR_RETURN(core::Task task, TaskFromEntry(e));
  const std::string state(r[2].str());
  if (!state.empty()) {
    auto st = core::ParseJobState(state);
    if (st.ok()) task.job_state = *st;
  }
  LS_ASSIGN_OR_RETURN(task.deliveries, ParseInteger(r[3], "take task deliveries"));
  return task;
}

}  // namespace

RedisTileQueue::RedisTileQueue(std::shared_ptr<ConnectionPool> pool, Schema schema, QueueOptions opts,
                               std::string consumer)
    : pool_(std::move(pool)), schema_(std::move(schema)), opts_(opts), consumer_(std::move(consumer)) {
  if (opts_.claim_interval.count() <= 0) {
    opts_.claim_interval = std::max(std::chrono::milliseconds(50), opts_.claim_idle / 4);
  }
}

std::vector<std::string> RedisTileQueue::JobKeys(const std::string& id) const {
  return {schema_.Job(id), schema_.Events(id), schema_.Results(id), schema_.Stats(), schema_.Queue()};
}

Status RedisTileQueue::EnsureGroup() {
  LS_ASSIGN_OR_RETURN(auto c, pool_->Acquire());
  // From id 0: acknowledged entries are deleted, so everything left is work.
  LS_ASSIGN_OR_RETURN(Reply r, c->Command({"XGROUP", "CREATE", schema_.Queue(), Schema::kGroup, "0", "MKSTREAM"}));
  if (r.is_error() && r.view().error_code() == "BUSYGROUP") return Status::Ok();
  return CheckReply(r.view(), "XGROUP CREATE");
}

Result<std::optional<core::Task>> RedisTileQueue::ClaimAbandoned(Connection& c) {
  const std::string idle = std::to_string(opts_.claim_idle.count());
  std::string cursor = "0-0";
  // XAUTOCLAIM looks at a bounded part of the pending list per call: follow its cursor round once.
  for (int round = 0; round < 100; ++round) {
    LS_ASSIGN_OR_RETURN(Reply r, c.Command({"XAUTOCLAIM", schema_.Queue(), Schema::kGroup, consumer_, idle, cursor,
                                            "COUNT", "1"}));
    if (r.is_error() && r.view().error_code() == "NOGROUP") {
      lost_group_ = true;
      return std::optional<core::Task>();
    }
    LS_ASSIGN_OR_RETURN(AutoClaim claim, ParseXAutoClaim(r.view(), "XAUTOCLAIM"));
    for (const StreamEntry& token : claim.entries) {
      // The entry is a token: the task it was bound to when first taken (or one bound now). nil: a surplus
      // token (dropped), or one acknowledged or claimed by another consumer since XAUTOCLAIM.
      LS_ASSIGN_OR_RETURN(Reply bound, scripts::ResolveTask().Run(c, {schema_.Queue()},
                                                                  {Schema::kGroup, consumer_, schema_.prefix(), token.id}));
      if (bound.view().is_nil()) continue;
      StreamEntry e;  // the token with the bound task's fields
      auto task = TaskFromResolved(bound.view(), &e);
      if (!task.ok()) {  // unreadable: drop it rather than crash every worker on it
        LS_RETURN_IF_ERROR(c.Command({"XACK", schema_.Queue(), Schema::kGroup, token.id}).status());
        continue;
      }
      if (task->deliveries > opts_.max_deliveries) {
        const std::string what = task->kind == core::Task::Kind::kTile
                                     ? "tile " + std::to_string(task->tile.index)
                                     : std::string("the preparation");
        const std::string reason = what + " was delivered " + std::to_string(task->deliveries - 1) +
                                   " times without finishing (each worker holding it vanished: killed, preempted, "
                                   "or the task kills whole workers); moved to the dead-letter stream";
        std::vector<std::string> keys = JobKeys(task->job_id);
        keys.push_back(schema_.DeadLetter());
        LS_RETURN_IF_ERROR(scripts::DeadLetter()
                               .Run(c, keys,
                                    {Schema::kGroup, e.id, task->job_id, e.Get("type"), e.Get("tile"),
                                     std::to_string(task->deliveries - 1), reason})
                               .status());
        continue;
      }
      return std::optional<core::Task>(std::move(*task));
    }
    cursor = claim.next_cursor;
    if (cursor == "0-0") break;
  }
  return std::optional<core::Task>();
}

Result<std::optional<core::Task>> RedisTileQueue::Next(std::chrono::milliseconds wait) {
  if (lost_group_) {
    // Redis lost the group (restarted without persistence, or the queue was deleted): make it again.
    LS_RETURN_IF_ERROR(EnsureGroup());
    lost_group_ = false;
  }
  {
    LS_ASSIGN_OR_RETURN(auto c, pool_->Acquire());
    const auto now = std::chrono::steady_clock::now();
    if (now >= next_claim_) {
      LS_ASSIGN_OR_RETURN(auto claimed, ClaimAbandoned(*c));
      if (claimed) return claimed;  // look again at once next time: there may be more
      if (lost_group_) return std::optional<core::Task>();
      next_claim_ = now + opts_.claim_interval;
    }
    // Under load a task is waiting: take it together with its job's state, in one round trip.
    auto taken = scripts::TakeTask().Run(*c, {schema_.Queue()}, {Schema::kGroup, consumer_, schema_.prefix()});
    if (!taken.ok() && taken.status().message().find("NOGROUP") != std::string::npos) {
      lost_group_ = true;
      return std::optional<core::Task>();
    }
    LS_RETURN_IF_ERROR(taken.status());
    if (taken->view().is_integer()) return std::optional<core::Task>();  // surplus tokens dropped: ask again
    if (taken->size() == 4) {
      LS_ASSIGN_OR_RETURN(core::Task task, TaskFromResolved(taken->view()));
      return std::optional<core::Task>(std::move(task));
    }
    // Nothing waiting: block until a token comes (or `wait` passes), then bind it to a task.
    const std::vector<std::string> cmd{"XREADGROUP", "GROUP", Schema::kGroup, consumer_, "COUNT", "1", "BLOCK",
                                       std::to_string(std::max<int64_t>(1, wait.count())), "STREAMS",
                                       schema_.Queue(), ">"};
    LS_ASSIGN_OR_RETURN(Reply r, c->BlockingCommand(cmd, wait));
    if (r.is_error() && r.view().error_code() == "NOGROUP") {
      lost_group_ = true;
    } else {
      LS_ASSIGN_OR_RETURN(auto streams, ParseXRead(r.view(), "XREADGROUP"));
      for (const auto& [key, entries] : streams) {
        for (const StreamEntry& e : entries) {
          LS_ASSIGN_OR_RETURN(Reply bound, scripts::ResolveTask().Run(*c, {schema_.Queue()},
                                                                      {Schema::kGroup, consumer_, schema_.prefix(), e.id}));
          if (bound.view().is_nil()) return std::optional<core::Task>();
          LS_ASSIGN_OR_RETURN(core::Task task, TaskFromResolved(bound.view()));
          return std::optional<core::Task>(std::move(task));
        }
      }
    }
  }
  return std::optional<core::Task>();
}

Result<core::JobRecord> RedisTileQueue::LoadJob(const std::string& job_id) {
  LS_ASSIGN_OR_RETURN(auto c, pool_->Acquire());
  return LoadJobRecord(*c, schema_, job_id);
}

Result<core::TaskLease> RedisTileQueue::Heartbeat(const core::Task& task) {
  LS_ASSIGN_OR_RETURN(auto c, pool_->Acquire());
  LS_ASSIGN_OR_RETURN(Reply r, scripts::Heartbeat().Run(*c, {schema_.Queue(), schema_.Job(task.job_id)},
                                                        {Schema::kGroup, consumer_, task.id}));
  if (r.size() != 2) return core::Internal("redis: heartbeat: unexpected reply " + r.view().Describe());
  core::TaskLease lease;
  LS_ASSIGN_OR_RETURN(int64_t owned, ParseInteger(r[0], "heartbeat"));
  lease.owned = owned == 1;
  const std::string state(r[1].str());
  if (state.empty()) {
    lease.state = core::JobState::kCancelled;  // the job is gone (expired): nothing to do for it
  } else {
    LS_ASSIGN_OR_RETURN(lease.state, core::ParseJobState(state));
  }
  return lease;
}

Result<bool> RedisTileQueue::BeginPrepare(const core::Task& task) {
  LS_ASSIGN_OR_RETURN(auto c, pool_->Acquire());
  LS_ASSIGN_OR_RETURN(Reply r, scripts::BeginPrepare().Run(*c, JobKeys(task.job_id), {Schema::kGroup, task.id}));
  LS_ASSIGN_OR_RETURN(int64_t go, ParseInteger(r.view(), "begin_prepare"));
  return go == 1;
}

Status RedisTileQueue::FinishPrepare(const core::Task& task, const std::string& dir_ref, const std::string& proj_ref,
                                     int64_t tile_size, const std::map<std::string, std::string>& attributes) {
  LS_ASSIGN_OR_RETURN(auto c, pool_->Acquire());
  std::vector<std::string> args{Schema::kGroup, task.id, dir_ref, std::to_string(tile_size), proj_ref};
  for (const auto& [k, v] : attributes) {
    args.push_back(k);
    args.push_back(v);
  }
  return scripts::FinishPrepare().Run(*c, JobKeys(task.job_id), args).status();
}

Status RedisTileQueue::Complete(const core::Task& task, const std::vector<double>& values, double seconds) {
  LS_ASSIGN_OR_RETURN(auto c, pool_->Acquire());
  const auto ms = static_cast<int64_t>(seconds * 1000.0 + 0.5);
  return scripts::CompleteTile()
      .Run(*c, JobKeys(task.job_id),
           {Schema::kGroup, task.id, std::to_string(task.tile.index), std::to_string(task.tile.begin),
            std::to_string(task.tile.end), core::EncodeValues(values), std::to_string(ms), opts_.device_kind})
      .status();
}

Status RedisTileQueue::Skip(const core::Task& task) {
  LS_ASSIGN_OR_RETURN(auto c, pool_->Acquire());
  return scripts::SkipTask().Run(*c, JobKeys(task.job_id), {Schema::kGroup, task.id}).status();
}

Result<core::CrashOutcome> RedisTileQueue::Crashed(const core::Task& task, const Status& reason) {
  LS_ASSIGN_OR_RETURN(auto c, pool_->Acquire());
  std::vector<std::string> keys = JobKeys(task.job_id);
  keys.push_back(schema_.DeadLetter());
  const bool tile = task.kind == core::Task::Kind::kTile;
  LS_ASSIGN_OR_RETURN(Reply r, scripts::CrashTask().Run(
                                   *c, keys,
                                   {Schema::kGroup, task.id, consumer_, tile ? "tile" : "prepare",
                                    tile ? std::to_string(task.tile.index) : "", std::to_string(opts_.max_crashes),
                                    std::to_string(opts_.claim_idle.count()), reason.message()}));
  LS_ASSIGN_OR_RETURN(int64_t outcome, ParseInteger(r.view(), "crash_task"));
  if (outcome == 1) return core::CrashOutcome::kReleased;
  if (outcome == 2) return core::CrashOutcome::kDeadLettered;
  return core::CrashOutcome::kNotOwned;
}

Status RedisTileQueue::Release(const core::Task& task) {
  LS_ASSIGN_OR_RETURN(auto c, pool_->Acquire());
  // Still ours, but idle as long as an abandoned task: the next XAUTOCLAIM takes it.
  LS_ASSIGN_OR_RETURN(Reply r, c->Command({"XCLAIM", schema_.Queue(), Schema::kGroup, consumer_, "0", task.id, "IDLE",
                                           std::to_string(opts_.claim_idle.count()), "JUSTID"}));
  return CheckReply(r.view(), "XCLAIM");
}

Status RedisTileQueue::Fail(const core::Task& task, const Status& reason) {
  LS_ASSIGN_OR_RETURN(auto c, pool_->Acquire());
  return scripts::FailJob()
      .Run(*c, JobKeys(task.job_id), {Schema::kGroup, task.id, reason.message(), reason.field()})
      .status();
}

}  // namespace landscape::redis

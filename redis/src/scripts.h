// The Lua scripts that make every multi-key change of a job atomic, and the
// Script runner (EVALSHA, loading the script when Redis does not know it: on
// first use and after a restart). Internal to landscape_redis.
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "landscape/redis/connection.h"

namespace landscape::redis {

class Script {
 public:
  Script(const char* name, std::string source) : name_(name), source_(std::move(source)) {}
  /// Runs the script; an error reply (a Lua error, or Redis refusing) is a Status.
  Result<Reply> Run(Connection& c, const std::vector<std::string>& keys, const std::vector<std::string>& args) const;

 private:
  const char* name_;
  std::string source_;
  mutable std::mutex mu_;
  mutable std::string sha_;  // SHA-1 from SCRIPT LOAD
};

// Every job script takes KEYS = {job, events, results, stats, queue, ...}.
namespace scripts {
/// KEYS job events results stats queue tenant_jobs request; ARGV id tenant request_id spec points_total
/// retention_s priority weight ("": the tenant's stays) max_jobs max_queued_points max_tiles_in_flight (0: no
/// quota). Makes the job ready in the scheduling index and adds one token to the queue. -> {1, id} (created),
/// {0, existing_id} (the request id is taken) or {2, quota, used, limit} (refused: over the quota).
const Script& Submit();
/// ARGV group entry. QUEUED -> PREPARING; -> 1 to go on, 0 (acknowledged) when the job is past it.
const Script& BeginPrepare();
/// ARGV group entry dir_ref tile_size proj_ref [attr value ...]. PREPARING -> RUNNING, enqueues the tiles,
/// grants the job's tenant the artifacts dir_ref and proj_ref, acknowledges. -> tiles or 0.
const Script& FinishPrepare();
/// ARGV group entry tile begin end values compute_ms device_kind. -> 0 job not running, 1 duplicate, 2 stored, 3 stored
/// and the job succeeded. Always acknowledges.
const Script& CompleteTile();
/// ARGV group entry(or "") message field. Fails the job unless final; acknowledges the entry. -> 1 if failed now.
const Script& FailJob();
/// KEYS + deadletter; ARGV group entry job kind tile deliveries reason. -> 1, or 0 when another worker already
/// handled the entry.
const Script& DeadLetter();
/// ARGV group entry. Acknowledges a task without a result (its job ended); frees its tile slot. -> XACK's count.
const Script& SkipTask();
/// KEYS + deadletter; ARGV group entry consumer kind(tile|prepare) tile max_crashes idle_ms message. The
/// evaluation process died running the task: counts it (job field crashes:{tile|prepare}); under max_crashes
/// the entry is released (idle_ms idle: the next reclaim takes it) -> 1; at max_crashes it is dead-lettered and
/// the job fails with the reason -> 2. -> 0 when the entry is no longer this consumer's.
const Script& CrashTask();
/// ARGV message. Cancels the job unless final. -> the state after.
const Script& CancelJob();
/// KEYS queue job; ARGV group consumer entry. -> {owned 0/1, job state or ""}.
const Script& Heartbeat();
/// KEYS queue; ARGV group consumer prefix. A new task without blocking, chosen by the fair scheduler, with its
/// job's state and delivery count: {id, {field, value, ...}, state, deliveries}; nil when no token is waiting;
/// an integer (tokens dropped) when tokens were waiting but no task was ready.
const Script& TakeTask();
/// KEYS queue; ARGV group consumer prefix entry. The task bound to an entry this consumer holds, binding
/// one by the fair scheduler when it has none: {id, {field, value, ...}, state, deliveries}; nil when the
/// entry is not pending for this consumer (acknowledged or claimed by another since), or when nothing is
/// ready (the entry, a surplus token, is then acknowledged and deleted).
const Script& ResolveTask();
/// KEYS upload artifact; ARGV size chunks ttl_s tenant. -> 1 stored, 0 already present (upload discarded);
/// either way a non-empty tenant is granted the artifact (field t:{tenant}).
const Script& CommitArtifact();
}  // namespace scripts

}  // namespace landscape::redis

// core::TileQueue on a Redis Stream read through a consumer group.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "landscape/core/tile_queue.h"
#include "landscape/redis/connection.h"
#include "landscape/redis/schema.h"

namespace landscape::redis {

struct QueueOptions {
  /// A task whose worker has not acknowledged or heartbeaten it for this long
  /// is presumed abandoned and claimed by another worker (XAUTOCLAIM).
  std::chrono::milliseconds claim_idle{30000};
  /// How often Next() looks for abandoned tasks; 0: claim_idle / 4.
  std::chrono::milliseconds claim_interval{0};
  /// The preemption backstop: a task delivered more than this many times
  /// (each earlier worker vanished holding it: killed, preempted, or the task
  /// kills whole workers) goes to the dead-letter stream and fails its job.
  /// High, because vanishing workers are mostly not the task's fault.
  int max_deliveries = 10;
  /// The poison rule: a task whose evaluation process died (crashed, the
  /// worker survived and saw it) this many times is dead-lettered; fewer
  /// crashes release it for another try. See docs/service.md, Preemption.
  int max_crashes = 2;
  /// The kind of device this worker computes on ("cpu", "cuda"): a label of
  /// the per-tenant tile and compute-time counters.
  std::string device_kind = "cpu";
};

/// One worker's handle on the queue; `consumer` names the worker in the
/// group. Not thread-safe (one per thread; several may share a consumer name
/// and a pool).
class RedisTileQueue final : public core::TileQueue {
 public:
  RedisTileQueue(std::shared_ptr<ConnectionPool> pool, Schema schema, QueueOptions opts, std::string consumer);

  Result<std::optional<core::Task>> Next(std::chrono::milliseconds wait) override;
  Result<core::JobRecord> LoadJob(const std::string& job_id) override;
  Result<core::TaskLease> Heartbeat(const core::Task& task) override;
  Result<bool> BeginPrepare(const core::Task& task) override;
  Status FinishPrepare(const core::Task& task, const std::string& dir_ref, const std::string& proj_ref,
                       int64_t tile_size, const std::map<std::string, std::string>& attributes) override;
  Status Complete(const core::Task& task, const std::vector<double>& values, double seconds) override;
  Status Skip(const core::Task& task) override;
  Status Release(const core::Task& task) override;
  Status Fail(const core::Task& task, const Status& reason) override;
  Result<core::CrashOutcome> Crashed(const core::Task& task, const Status& reason) override;

  /// Creates the consumer group (and the stream) unless they exist. Next()
  /// does it by itself when it finds the group missing.
  Status EnsureGroup();
  const std::string& consumer() const { return consumer_; }

 private:
  std::vector<std::string> JobKeys(const std::string& job_id) const;
  /// An abandoned task claimed for this worker, or nullopt.
  Result<std::optional<core::Task>> ClaimAbandoned(Connection& c);

  std::shared_ptr<ConnectionPool> pool_;
  Schema schema_;
  QueueOptions opts_;
  std::string consumer_;
  std::chrono::steady_clock::time_point next_claim_{};
  bool lost_group_ = false;  // the last command found no consumer group: EnsureGroup() first
};

}  // namespace landscape::redis

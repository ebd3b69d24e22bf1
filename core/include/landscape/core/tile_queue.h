// The worker's view of the work queue. Declared here, implemented next to
// Redis (landscape::redis::RedisTileQueue); unit tests may use a fake.
//
// Delivery is at least once: a task may run twice (a worker presumed dead
// was only slow), so every completion is idempotent.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "landscape/core/grid.h"
#include "landscape/core/job.h"
#include "landscape/core/status.h"

namespace landscape::core {

/// One unit of work: prepare a job, or compute one of its tiles.
struct Task {
  enum class Kind { kPrepare, kTile };
  Kind kind = Kind::kTile;
  std::string id;          // the queue entry
  std::string job_id;
  Tile tile;               // kTile
  int64_t deliveries = 1;  // times delivered so far, this one included
  /// The job's state when the task was taken, when the queue read it in the
  /// same step (saves the worker a round trip); nullopt otherwise.
  std::optional<JobState> job_state;
};

/// What became of a task whose evaluation process died (TileQueue::Crashed).
enum class CrashOutcome {
  kReleased,      // under the crash limit: another delivery will try it
  kDeadLettered,  // at the limit: in the dead-letter stream, its job failed with the reason
  kNotOwned,      // the task was no longer this worker's: nothing recorded
};

/// What a heartbeat learns.
struct TaskLease {
  bool owned = false;             // false: another worker has claimed the task
  JobState state = JobState::kRunning;  // the job's state now
};

class TileQueue {
 public:
  virtual ~TileQueue() = default;

  /// The next task for this worker: first one idle past the claim timeout
  /// (its worker is presumed dead), else a new one, waiting at most `wait`.
  /// Tasks delivered too often are dead-lettered here (their job fails with
  /// the reason) and not returned. nullopt: nothing to do now.
  virtual Result<std::optional<Task>> Next(std::chrono::milliseconds wait) = 0;

  /// The job's record (spec, state, prepared directions). NotFound once expired.
  virtual Result<JobRecord> LoadJob(const std::string& job_id) = 0;

  /// Keeps `task` this worker's while it runs (resets its idle time).
  virtual Result<TaskLease> Heartbeat(const Task& task) = 0;

  /// QUEUED -> PREPARING. false: the job is already past preparation or has
  /// ended; the task is then acknowledged and must be dropped.
  virtual Result<bool> BeginPrepare(const Task& task) = 0;

  /// PREPARING -> RUNNING, atomically: records the direction file `dir_ref`
  /// (and, for PCA jobs, the projection file `proj_ref`; "" for none) and the
  /// surface's `attributes` (JobRecord::attributes), enqueues the tiles of
  /// `tile_size` points and acknowledges the task.
  virtual Status FinishPrepare(const Task& task, const std::string& dir_ref, const std::string& proj_ref,
                               int64_t tile_size, const std::map<std::string, std::string>& attributes) = 0;

  /// Atomically: stores the tile's values (a second store of the same tile
  /// changes nothing), bumps the progress, emits the tile event and
  /// acknowledges the task; the last tile ends the job SUCCEEDED. A job that
  /// is no longer RUNNING only gets the acknowledgement. `seconds`: compute
  /// time, for the latency metric.
  virtual Status Complete(const Task& task, const std::vector<double>& values, double seconds) = 0;

  /// Acknowledges a task without a result (its job has ended).
  virtual Status Skip(const Task& task) = 0;

  /// Gives an unfinished task back without acknowledging it, claimable by
  /// another worker at once.
  virtual Status Release(const Task& task) = 0;

  /// Fails the job with `reason` (unless it has already ended) and
  /// acknowledges the task.
  virtual Status Fail(const Task& task, const Status& reason) = 0;
  /// The process evaluating `task` died (crashed or exited) while this worker
  /// lived to see it: counts the crash against the task. Under the queue's
  /// crash limit the task is released for another delivery; at the limit it
  /// is dead-lettered and its job fails with a reason naming `reason`.
  virtual Result<CrashOutcome> Crashed(const Task& task, const Status& reason) = 0;
};

}  // namespace landscape::core

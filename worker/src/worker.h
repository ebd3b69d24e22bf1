// The worker loop: takes tasks from the queue, prepares jobs, computes tiles,
// and stores results. Written against the core interfaces (TileQueue,
// ArtifactStore, EvaluatorFactory): no Redis or LibTorch types here.
//
// Guarantees: a tile is acknowledged only with its values stored, in one
// atomic step (TileQueue::Complete); an unfinished tile is never
// acknowledged (it is released or left to be reclaimed); tiles of a job that
// has ended are skipped, and the running one is abandoned within one
// heartbeat of the cancellation.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "landscape/core/artifacts.h"
#include "landscape/core/evaluator.h"
#include "landscape/core/tile_queue.h"

namespace landscape::worker {

struct WorkerOptions {
  std::string scratch_dir = ".";                          // direction files are written here before upload
  std::chrono::milliseconds poll{1000};                   // longest wait for a task (and to notice a stop when idle)
  std::chrono::milliseconds heartbeat{5000};              // while a task runs; keep it well under the claim timeout
  std::chrono::milliseconds drain_timeout{60000};         // after a stop request, the running task gets this long
  std::chrono::milliseconds max_backoff{5000};            // retries of a Redis that cannot be reached
  size_t cached_jobs = 2;                                 // evaluators kept loaded (a model and data set each)
};

/// How far a stop request has gone (the value of the `stop` flag given to Run).
enum StopLevel : int {
  kKeepRunning = 0,
  kDrain = 1,    // finish the running task (within drain_timeout), take no more
  kAbandon = 2,  // give the running task back now
};

struct WorkerStats {
  int64_t prepared = 0;         // jobs prepared
  int64_t tiles_done = 0;       // tiles computed and stored
  int64_t tiles_skipped = 0;    // tiles of jobs that had ended, not computed
  int64_t tasks_abandoned = 0;  // tasks stopped unfinished (cancel, lost lease, shutdown)
  int64_t jobs_failed = 0;      // jobs this worker failed (bad model, data, ...)
  int64_t tasks_crashed = 0;    // tasks whose evaluation process died (counted against the task)
};

class Worker {
 public:
  /// `control` serves the heartbeat thread; it must not share a connection with `queue`.
  Worker(WorkerOptions opts, core::TileQueue& queue, core::TileQueue& control, core::ArtifactStore& artifacts,
         core::EvaluatorFactory& evaluators);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  /// Works until `stop` reaches kDrain (then returns after the running task)
  /// or kAbandon.
  void Run(const std::atomic<int>& stop);
  WorkerStats stats() const;

 private:
  struct CachedJob {
    std::string job_id;
    std::unique_ptr<core::TileEvaluator> evaluator;
    std::vector<std::string> metrics;
    uint64_t last_use = 0;
  };
  enum class Outcome { kDone, kStopped };

  void RunTask(const core::Task& task, const std::atomic<int>& stop);
  void Prepare(const core::Task& task, const std::atomic<int>& stop);
  void ComputeTile(const core::Task& task, const std::atomic<int>& stop);
  /// Loads an evaluator for `job` into the cache (evicting the least recently used).
  core::Result<core::TileEvaluator*> EvaluatorFor(const core::JobRecord& job);
  void Forget(const std::string& job_id);
  /// When `s` says the evaluation process died (kAborted): counts the crash against the task (released for
  /// another try, or dead-lettered at the limit) and returns true; false for any other status.
  bool CountedCrash(const core::Task& task, const core::Status& s, const std::atomic<int>& stop);
  /// Runs `op` until it succeeds or fails for a reason other than an unreachable Redis, or a stop to abandon.
  template <typename Op>
  auto Retry(const char* what, const std::atomic<int>& stop, Op op) -> decltype(op());

  // The heartbeat: keeps the running task ours and watches its job's state.
  void StartLease(const core::Task& task);
  void EndLease();
  void HeartbeatLoop();
  bool KeepGoing(const std::atomic<int>& stop);

  WorkerOptions opts_;
  core::TileQueue& queue_;
  core::TileQueue& control_;
  core::ArtifactStore& artifacts_;
  core::EvaluatorFactory& evaluators_;
  std::vector<CachedJob> cache_;
  uint64_t use_counter_ = 0;
  std::optional<std::chrono::steady_clock::time_point> drain_deadline_;

  mutable std::mutex mu_;  // guards the fields below
  std::condition_variable cv_;
  std::optional<core::Task> leased_;
  bool shutting_down_ = false;
  WorkerStats stats_;
  std::atomic<bool> lease_lost_{false};
  std::atomic<bool> job_ended_{false};
  std::thread heartbeat_;
};

}  // namespace landscape::worker

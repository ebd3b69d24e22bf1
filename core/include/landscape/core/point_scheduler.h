// Sharing out a grid's points to the evaluators of one process (`landscape local --device a,b,...`).
//
// The service shares out *tiles* to worker processes through the durable queue (tile_queue.h); inside one
// process, points go to engines that are each free at a different time (one per GPU, or CPU engines with
// the cores split). This is that in-process scheduler: every pending point is handed out exactly once, in
// increasing index order, to whichever consumer asks first; handing out stops at the first failure or
// when Stop() is called, and the first failure is kept.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <vector>

#include "landscape/core/status.h"

namespace landscape::core {

class PointScheduler {
 public:
  /// The pending points are the k in [0, done.size()) with done[k] false (a copy is kept: `done` may change
  /// afterwards, e.g. as the caller records results).
  explicit PointScheduler(std::vector<bool> done);

  /// The next pending point, or nullopt when none is left, after a failure, or after Stop(). Thread-safe.
  std::optional<int64_t> Next();
  /// Hands out no more points; the first non-OK status given is kept (an OK status only stops).
  void Stop(const Status& why = Status::Ok());
  /// The first failure given to Stop (OK when none).
  Status failure() const;
  /// Points handed out so far.
  int64_t handed_out() const;

  /// Runs work(consumer) for consumer 0..n-1, each in a thread of its own when n > 1 (in the caller's
  /// thread when n == 1), and returns when all have returned.
  static void RunConsumers(size_t n, const std::function<void(size_t consumer)>& work);

 private:
  mutable std::mutex mu_;
  std::vector<bool> done_;
  int64_t cursor_ = 0;  // every point below it is done or handed out
  int64_t handed_out_ = 0;
  bool stopped_ = false;
  Status failure_;
};

}  // namespace landscape::core

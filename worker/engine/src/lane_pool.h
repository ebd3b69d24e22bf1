// LanePool: persistent single-threaded CPU lanes for data-parallel evaluation.
//
// Run(f) calls f(0) .. f(n-1) at once, one per lane thread, and returns when
// all have returned (rethrowing the first exception). The threads live as long
// as the pool, so their per-thread state (OpenMP team of one, allocator arena,
// LibTorch's thread-locals) is set up once, not at every grid point: starting
// threads per point cost ≈ 2 ms, most of a point on small models.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace landscape::engine {

class LanePool {
 public:
  /// Starts `lanes` threads, each limited to one intra-op thread. Restores the
  /// process-wide intra-op thread count to `threads` afterwards (lowering it in
  /// a new thread lowers the default for every thread started later). Throws
  /// std::system_error when a thread cannot be started (none is left running).
  LanePool(size_t lanes, int threads);
  ~LanePool();
  LanePool(const LanePool&) = delete;
  LanePool& operator=(const LanePool&) = delete;

  size_t size() const { return lanes_; }
  /// f(lane) on every lane concurrently; one Run at a time (not reentrant).
  void Run(const std::function<void(size_t lane)>& f);

 private:
  void Loop(size_t lane);
  void Stop();  // ends and joins the threads

  const size_t lanes_;
  std::vector<std::thread> threads_;
  std::mutex mu_;
  std::condition_variable work_, done_;
  const std::function<void(size_t)>* task_ = nullptr;  // guarded by mu_
  uint64_t generation_ = 0;                            // guarded by mu_: bumped per Run
  size_t started_ = 0, pending_ = 0;                   // guarded by mu_
  bool stop_ = false;                                  // guarded by mu_
  std::vector<std::exception_ptr> errors_;             // guarded by mu_, one per lane
};

}  // namespace landscape::engine

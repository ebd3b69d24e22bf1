#include "lane_pool.h"

#include <ATen/Parallel.h>

namespace landscape::engine {

LanePool::LanePool(size_t lanes, int threads) : lanes_(lanes), errors_(lanes) {
  threads_.reserve(lanes);
  try {
    for (size_t l = 0; l < lanes; ++l) threads_.emplace_back([this, l] { Loop(l); });
  } catch (...) {
    Stop();  // the threads that did start
    throw;
  }
  {
    std::unique_lock<std::mutex> lock(mu_);
    done_.wait(lock, [&] { return started_ == lanes_; });
  }
  at::set_num_threads(threads);
}

LanePool::~LanePool() { Stop(); }

void LanePool::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  work_.notify_all();
  for (auto& t : threads_) t.join();
}

void LanePool::Run(const std::function<void(size_t)>& f) {
  std::unique_lock<std::mutex> lock(mu_);
  task_ = &f;
  pending_ = lanes_;
  for (auto& e : errors_) e = nullptr;
  ++generation_;
  work_.notify_all();
  done_.wait(lock, [&] { return pending_ == 0; });
  task_ = nullptr;
  for (auto& e : errors_) {
    if (e) std::rethrow_exception(e);
  }
}

void LanePool::Loop(size_t lane) {
  // This thread's operators: one thread, no OpenMP team to wait on. LibTorch
  // initializes a thread's count lazily from the process-wide value at its first
  // parallel call; get_num_threads makes that happen now, while the value is 1.
  at::set_num_threads(1);
  (void)at::get_num_threads();
  uint64_t seen = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++started_;
  }
  done_.notify_all();
  while (true) {
    const std::function<void(size_t)>* task = nullptr;
    {
      std::unique_lock<std::mutex> lock(mu_);
      work_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      task = task_;
    }
    std::exception_ptr error;
    try {
      (*task)(lane);
    } catch (...) {
      error = std::current_exception();
    }
    std::lock_guard<std::mutex> lock(mu_);
    errors_[lane] = error;
    if (--pending_ == 0) done_.notify_all();
  }
}

}  // namespace landscape::engine

#include "landscape/core/point_scheduler.h"

#include <thread>

namespace landscape::core {

PointScheduler::PointScheduler(std::vector<bool> done) : done_(std::move(done)) {}

std::optional<int64_t> PointScheduler::Next() {
  std::lock_guard<std::mutex> lock(mu_);
  const auto n = static_cast<int64_t>(done_.size());
  while (cursor_ < n && done_[static_cast<size_t>(cursor_)]) ++cursor_;
  if (stopped_ || cursor_ >= n) return std::nullopt;
  ++handed_out_;
  return cursor_++;
}

void PointScheduler::Stop(const Status& why) {
  std::lock_guard<std::mutex> lock(mu_);
  stopped_ = true;
  if (failure_.ok() && !why.ok()) failure_ = why;
}

Status PointScheduler::failure() const {
  std::lock_guard<std::mutex> lock(mu_);
  return failure_;
}

int64_t PointScheduler::handed_out() const {
  std::lock_guard<std::mutex> lock(mu_);
  return handed_out_;
}

void PointScheduler::RunConsumers(size_t n, const std::function<void(size_t)>& work) {
  if (n == 1) {
    work(0);
    return;
  }
  std::vector<std::thread> threads;
  threads.reserve(n);
  for (size_t c = 0; c < n; ++c) threads.emplace_back(work, c);
  for (auto& t : threads) t.join();
}

}  // namespace landscape::core

// core::PointScheduler: every pending point handed out exactly once, in order, to concurrent consumers;
// stops at the first failure or Stop().
#include "landscape/core/point_scheduler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

namespace landscape::core {
namespace {

TEST(PointSchedulerTest, HandsOutThePendingPointsInOrderSkippingDoneOnes) {
  PointScheduler s({true, false, false, true, true, false});
  std::vector<int64_t> got;
  while (auto k = s.Next()) got.push_back(*k);
  EXPECT_EQ(got, (std::vector<int64_t>{1, 2, 5}));
  EXPECT_EQ(s.handed_out(), 3);
  EXPECT_FALSE(s.Next().has_value());  // stays exhausted
  EXPECT_TRUE(s.failure().ok());
}

TEST(PointSchedulerTest, NothingPendingHandsOutNothing) {
  PointScheduler none({});
  EXPECT_FALSE(none.Next().has_value());
  PointScheduler all_done({true, true});
  EXPECT_FALSE(all_done.Next().has_value());
}

TEST(PointSchedulerTest, KeepsItsOwnCopyOfWhatWasDone) {
  std::vector<bool> done{false, false, false};
  PointScheduler s(done);
  done[1] = true;  // the caller records a result: the schedule does not change under it
  std::vector<int64_t> got;
  while (auto k = s.Next()) got.push_back(*k);
  EXPECT_EQ(got, (std::vector<int64_t>{0, 1, 2}));
}

TEST(PointSchedulerTest, FourConsumersGetEveryPointExactlyOnceEachInIncreasingOrder) {
  const size_t n = 5000;
  std::vector<bool> done(n, false);
  for (size_t k = 0; k < n; k += 7) done[k] = true;
  PointScheduler s(done);
  std::mutex mu;
  std::vector<std::vector<int64_t>> per(4);
  PointScheduler::RunConsumers(4, [&](size_t c) {
    while (auto k = s.Next()) {
      std::lock_guard<std::mutex> lock(mu);
      per[c].push_back(*k);
    }
  });
  std::multiset<int64_t> all;
  for (const auto& v : per) {
    EXPECT_TRUE(std::is_sorted(v.begin(), v.end()));
    all.insert(v.begin(), v.end());
  }
  std::multiset<int64_t> expected;
  for (size_t k = 0; k < n; ++k) {
    if (!done[k]) expected.insert(static_cast<int64_t>(k));
  }
  EXPECT_EQ(all, expected);
  EXPECT_EQ(s.handed_out(), static_cast<int64_t>(expected.size()));
}

TEST(PointSchedulerTest, TheFirstFailureStopsEveryConsumerAndIsKept) {
  PointScheduler s(std::vector<bool>(1000, false));
  std::atomic<int> evaluated{0};
  std::mutex mu;
  std::condition_variable cv;
  bool failed = false;
  PointScheduler::RunConsumers(3, [&](size_t c) {
    while (auto k = s.Next()) {
      ++evaluated;
      if (*k == 10) {
        s.Stop(Status(StatusCode::kInternal, "engine " + std::to_string(c) + " failed"));
        std::lock_guard<std::mutex> lock(mu);
        failed = true;
        cv.notify_all();
      } else if (*k > 10) {
        // A consumer past the failing point finishes its point only after the failure: a later failure.
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return failed; });
        s.Stop(Status(StatusCode::kDataLoss, "a later failure"));
      }
    }
  });
  EXPECT_EQ(s.failure().code(), StatusCode::kInternal);
  // Points 0..10, and at most one more per other consumer (each waits with its point): none after the stop.
  EXPECT_LE(evaluated.load(), 13);
  EXPECT_EQ(evaluated.load(), s.handed_out());
  EXPECT_FALSE(s.Next().has_value());
}

TEST(PointSchedulerTest, AnOkStopOnlyStops) {
  PointScheduler s(std::vector<bool>(5, false));
  ASSERT_EQ(s.Next(), std::optional<int64_t>(0));
  s.Stop();
  EXPECT_FALSE(s.Next().has_value());
  EXPECT_TRUE(s.failure().ok());
}

TEST(PointSchedulerTest, OneConsumerRunsInTheCallersThread) {
  const auto caller = std::this_thread::get_id();
  std::thread::id seen;
  PointScheduler::RunConsumers(1, [&](size_t c) {
    EXPECT_EQ(c, 0u);
    seen = std::this_thread::get_id();
  });
  EXPECT_EQ(seen, caller);
}

}  // namespace
}  // namespace landscape::core

// LanePool: every lane runs once per Run, concurrently, single-threaded; errors
// reach the caller; the caller's thread count is left as it was.
#include <gtest/gtest.h>

#include <ATen/Parallel.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include "lane_pool.h"

namespace landscape::engine {
namespace {

TEST(LanePool, RunsEveryLaneOnceConcurrentlyWithOneThreadEach) {
  at::set_num_threads(2);
  LanePool pool(3, 2);
  EXPECT_EQ(at::get_num_threads(), 2) << "the caller keeps its threads";
  for (int round = 0; round < 50; ++round) {
    std::vector<int> calls(3, 0), threads(3, 0);
    std::atomic<int> arrived{0};
    std::atomic<bool> all_met{true};
    pool.Run([&](size_t lane) {
      ++calls[lane];
      threads[lane] = at::get_num_threads();
      // A barrier: only lanes that run at the same time all get past it.
      ++arrived;
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      while (arrived.load() < 3) {
        if (std::chrono::steady_clock::now() > deadline) {
          all_met = false;
          return;
        }
        std::this_thread::yield();
      }
    });
    EXPECT_EQ(calls, (std::vector<int>{1, 1, 1})) << round;
    EXPECT_EQ(threads, (std::vector<int>{1, 1, 1})) << round;
    EXPECT_TRUE(all_met.load()) << round;
  }
  EXPECT_EQ(at::get_num_threads(), 2);
}

TEST(LanePool, AnErrorInOneLaneReachesTheCallerAndThePoolGoesOn) {
  LanePool pool(2, at::get_num_threads());
  EXPECT_THROW(pool.Run([](size_t lane) {
                 if (lane == 1) throw std::runtime_error("lane 1 failed");
               }),
               std::runtime_error);
  std::atomic<int> ran{0};
  pool.Run([&](size_t) { ++ran; });
  EXPECT_EQ(ran.load(), 2);
}

}  // namespace
}  // namespace landscape::engine

// The server's Executor (server/src/executor.h): every task posted runs exactly once, on at most
// `threads` threads at a time (0 meaning one); destruction runs what is queued, then joins;
// Post refuses (and never runs) a task once the executor is stopping.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "executor.h"
#include "process.h"

namespace landscape::server {
namespace {

using std::chrono::seconds;

// A gate tasks wait at until the test opens it.
class Gate {
 public:
  void Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return open_; });
  }
  void Open() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      open_ = true;
    }
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

TEST(Executor, RunsEveryTaskExactlyOnce) {
  constexpr int kTasks = 2000;
  std::vector<std::atomic<int>> runs(kTasks);
  {
    Executor ex(4);
    for (int i = 0; i < kTasks; ++i) ASSERT_TRUE(ex.Post([&runs, i] { runs[static_cast<size_t>(i)]++; }));
  }  // the destructor drains the queue
  for (int i = 0; i < kTasks; ++i) EXPECT_EQ(runs[static_cast<size_t>(i)].load(), 1) << i;
}

TEST(Executor, RunsAtMostItsThreadCountAtOnceAndUsesThemAll) {
  for (size_t threads : {size_t{1}, size_t{3}}) {
    Gate gate;
    std::mutex mu;
    int running = 0, max_running = 0, done = 0;
    std::set<std::thread::id> ids;
    {
      Executor ex(threads);
      for (int i = 0; i < 12; ++i) {
        ASSERT_TRUE(ex.Post([&] {
          {
            std::lock_guard<std::mutex> lock(mu);
            ++running;
            max_running = std::max(max_running, running);
            ids.insert(std::this_thread::get_id());
          }
          gate.Wait();
          std::lock_guard<std::mutex> lock(mu);
          --running;
          ++done;
        }));
      }
      // Every thread takes a task and blocks at the gate; no other task can start.
      ASSERT_TRUE(testing::WaitFor(
          [&] {
            std::lock_guard<std::mutex> lock(mu);
            return running == static_cast<int>(threads);
          },
          seconds(30)));
      gate.Open();
    }
    EXPECT_EQ(done, 12);
    EXPECT_EQ(max_running, static_cast<int>(threads));
    EXPECT_EQ(ids.size(), threads);
    EXPECT_EQ(ids.count(std::this_thread::get_id()), 0u);  // never on the caller's thread
  }
}

TEST(Executor, ZeroThreadsMeansOne) {
  Gate gate;
  std::atomic<int> running{0}, max_running{0}, done{0};
  {
    Executor ex(0);
    for (int i = 0; i < 5; ++i) {
      ASSERT_TRUE(ex.Post([&] {
        const int now = ++running;
        int seen = max_running.load();
        while (now > seen && !max_running.compare_exchange_weak(seen, now)) {
        }
        gate.Wait();
        --running;
        ++done;
      }));
    }
    ASSERT_TRUE(testing::WaitFor([&] { return running.load() == 1; }, seconds(30)));
    gate.Open();
  }
  EXPECT_EQ(done.load(), 5);
  EXPECT_EQ(max_running.load(), 1);
}

TEST(Executor, ShutdownRunsWhatIsQueuedAndRefusesWhatComesAfter) {
  Gate gate;
  std::atomic<int> ran{0};
  std::atomic<bool> refused_ran{false};
  auto ex = std::make_unique<Executor>(1);
  ASSERT_TRUE(ex->Post([&] {
    gate.Wait();
    ++ran;
  }));
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(ex->Post([&] { ++ran; }));
  // Destroy it on another thread: it stops accepting, then runs the queue (held at the gate), so the
  // object lives until the gate opens. (reset() clears `ex` first: keep the pointer.)
  Executor* raw = ex.get();
  std::thread destroyer([&ex] { ex.reset(); });
  // Post until the executor refuses: every accepted task must still run, the refused one never.
  int accepted_late = 0;
  bool refused = false;
  const bool stopped = testing::WaitFor(
      [&] {
        if (raw->Post([&] { ++ran; })) {
          ++accepted_late;
          return false;
        }
        refused = true;
        return true;
      },
      seconds(30), std::chrono::milliseconds(1));
  if (stopped) {
    EXPECT_FALSE(raw->Post([&] { refused_ran = true; }));
  }
  gate.Open();
  destroyer.join();
  ASSERT_TRUE(stopped && refused);
  EXPECT_EQ(ran.load(), 51 + accepted_late);
  EXPECT_FALSE(refused_ran.load());
}

TEST(Executor, TasksMayPostMoreTasks) {
  std::atomic<int> ran{0};
  {
    Executor ex(2);
    std::function<void(int)> chain = [&](int left) {
      ++ran;
      if (left > 0) ex.Post([&chain, left] { chain(left - 1); });
    };
    ASSERT_TRUE(ex.Post([&chain] { chain(99); }));
    ASSERT_TRUE(testing::WaitFor([&] { return ran.load() == 100; }, seconds(30)));
  }
  EXPECT_EQ(ran.load(), 100);
}

}  // namespace
}  // namespace landscape::server

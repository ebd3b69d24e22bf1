// The fair scheduler of the Redis queue against a real redis-server, with
// in-process consumers that do what a worker does to the queue (prepare,
// complete tiles): tenants share the workers by weight, a small job is not
// held behind a big one, priorities order a tenant's jobs, cancel frees a
// job's queued tiles at once, a job's tiles go out coarse to fine, and the
// quotas refuse (active jobs, queued points) or hold (tiles in flight).
// Uses $LANDSCAPE_TEST_REDIS when set (each test under its own key prefix),
// else a redis-server of its own.
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <set>

#include "landscape/core/artifacts.h"
#include "landscape/redis/job_store.h"
#include "landscape/redis/reply.h"
#include "landscape/redis/tile_queue.h"
#include "process.h"

namespace landscape {
namespace {

using std::chrono::milliseconds;

class SchedulingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string url = testing::TestRedisUrl(&own_);
    ASSERT_FALSE(url.empty());
    auto opts = redis::ParseRedisUrl(url);
    ASSERT_TRUE(opts.ok()) << opts.status();
    pool_ = redis::ConnectionPool::Create(*opts, 4);
    schema_ = redis::Schema("test:" + core::RandomId(8) + ":");
    store_ = std::make_unique<redis::JobStore>(pool_, schema_, redis::JobStoreOptions{std::chrono::seconds(30)});
    redis::QueueOptions q;
    q.claim_interval = milliseconds(1);
    queue_ = std::make_unique<redis::RedisTileQueue>(pool_, schema_, q, "w1");
    ASSERT_TRUE(queue_->EnsureGroup().ok());
  }

  void TearDown() override {
    if (!pool_) return;
    auto c = pool_->Acquire();
    if (!c.ok()) return;
    auto keys = (*c)->Command({"KEYS", schema_.prefix() + "*"});
    if (keys.ok() && keys->size() > 0) {
      std::vector<std::string> del{"DEL"};
      for (size_t i = 0; i < keys->size(); ++i) del.emplace_back((*keys)[i].str());
      (void)(*c)->Command(del);
    }
  }

  // A job of `points` points on one axis, tiles of `tile_size` points.
  std::string Submit(const std::string& tenant, int64_t points, int64_t tile_size, int priority = 0,
                     double weight = 0) {
    core::JobSpec s;
    s.model.model = "artifact:" + std::string(64, 'a');
    s.grid.x = core::AxisSpec{-1, 1, points};
    s.tile_size = tile_size;
    auto sub = store_->Submit(tenant, "", s, redis::SubmitSchedule{priority, weight});
    EXPECT_TRUE(sub.ok()) << sub.status();
    return sub.ok() ? sub->job.id : "";
  }

  // Takes the next task, as a worker would, skipping the calls that only
  // dropped surplus tokens. nullopt: nothing to do.
  std::optional<core::Task> Take() {
    for (int i = 0; i < 1000; ++i) {
      auto t = queue_->Next(milliseconds(1));
      EXPECT_TRUE(t.ok()) << t.status();
      if (!t.ok()) return std::nullopt;
      if (t->has_value()) return **t;
      auto stats = store_->Stats();  // no token left unread (those delivered are tasks running): nothing
      EXPECT_TRUE(stats.ok()) << stats.status();
      if (!stats.ok() || stats->lag == 0) return std::nullopt;
    }
    return std::nullopt;
  }

  // Runs one task: a preparation with tiles of the job's tile size, or a tile.
  void Run(const core::Task& t) {
    if (t.kind == core::Task::Kind::kPrepare) {
      auto go = queue_->BeginPrepare(t);
      ASSERT_TRUE(go.ok() && *go);
      auto job = store_->Get(t.job_id);
      ASSERT_TRUE(job.ok());
      ASSERT_TRUE(queue_->FinishPrepare(t, "", "", job->spec.tile_size, {}).ok());
    } else {
      std::vector<double> v(static_cast<size_t>(2 * (t.tile.end - t.tile.begin)), 1.0);
      ASSERT_TRUE(queue_->Complete(t, v, 0.001).ok());
    }
  }

  // Takes and runs every preparation waiting (tiles are taken only after).
  void PrepareAll(int jobs) {
    for (int i = 0; i < jobs; ++i) {
      auto t = Take();
      ASSERT_TRUE(t.has_value());
      ASSERT_EQ(t->kind, core::Task::Kind::kPrepare);
      Run(*t);
    }
  }

  std::string Cmd(const std::vector<std::string>& args) {
    auto c = pool_->Acquire();
    EXPECT_TRUE(c.ok());
    auto r = (*c)->Command(args);
    EXPECT_TRUE(r.ok()) << r.status();
    if (r->view().is_integer()) return std::to_string(r->view().integer());
    if (r->view().is_string()) return std::string(r->view().str());
    return "";
  }

  std::unique_ptr<testing::RedisServer> own_;
  std::shared_ptr<redis::ConnectionPool> pool_;
  redis::Schema schema_;
  std::unique_ptr<redis::JobStore> store_;
  std::unique_ptr<redis::RedisTileQueue> queue_;
};

TEST_F(SchedulingTest, ASmallJobOfAnotherTenantIsNotHeldBehindABigOne) {
  const std::string big = Submit("alice", 400, 4);   // 100 tiles
  const std::string small = Submit("bob", 4, 1);     // 4 tiles, submitted after
  PrepareAll(2);
  int big_done = 0;
  while (auto t = Take()) {
    Run(*t);
    if (t->job_id == big) ++big_done;
    if (store_->Get(small)->state == core::JobState::kSucceeded) break;
  }
  EXPECT_EQ(store_->Get(small)->state, core::JobState::kSucceeded);
  // Round robin across the two tenants: the small job's 4 tiles alternate with the big one's.
  EXPECT_LT(big_done, 25) << "the small job waited for a quarter of the big one";
  EXPECT_LE(big_done, 5);
}

TEST_F(SchedulingTest, TenantsGetTilesInProportionToTheirWeights) {
  const std::string a = Submit("heavy", 600, 1, 0, 2.0);
  const std::string b = Submit("light", 600, 1, 0, 1.0);
  PrepareAll(2);
  std::map<std::string, int> served;
  for (int i = 0; i < 600; ++i) {
    auto t = Take();
    ASSERT_TRUE(t.has_value());
    ASSERT_EQ(t->kind, core::Task::Kind::kTile);
    Run(*t);
    ++served[t->job_id];
  }
  const double ratio = static_cast<double>(served[a]) / served[b];
  EXPECT_NEAR(ratio, 2.0, 0.3) << served[a] << " : " << served[b];
}

TEST_F(SchedulingTest, PrioritiesOrderATenantsJobsThenAge) {
  const std::string old_low = Submit("carol", 3, 1, 0);
  const std::string high = Submit("carol", 3, 1, 5);
  const std::string new_low = Submit("carol", 3, 1, 0);
  // Preparations are tasks too: a job's tiles are ready once it is prepared.
  std::vector<std::string> order;
  while (auto t = Take()) {
    Run(*t);
    order.push_back((t->kind == core::Task::Kind::kPrepare ? "prepare " : "tile ") + t->job_id);
  }
  std::vector<std::string> want;
  for (const std::string& id : {high, old_low, new_low}) {
    want.push_back("prepare " + id);
    for (int i = 0; i < 3; ++i) want.push_back("tile " + id);
  }
  EXPECT_EQ(order, want);
}

TEST_F(SchedulingTest, CancelFreesAHundredThousandQueuedTilesAtOnce) {
  const std::string huge = Submit("dave", 100000, 1);
  PrepareAll(1);
  ASSERT_EQ(store_->Get(huge)->tiles_total, 100000);
  ASSERT_TRUE(store_->Cancel(huge).ok());
  const std::string next = Submit("dave", 2, 1);
  // The very next task is the next job's, though 10^5 tokens of the cancelled one came first.
  auto t = queue_->Next(milliseconds(1));
  ASSERT_TRUE(t.ok() && t->has_value()) << t.status();
  EXPECT_EQ((*t)->job_id, next);
  EXPECT_EQ((*t)->kind, core::Task::Kind::kPrepare);
  Run(**t);
  int tiles = 0;
  while (auto tile = Take()) {
    EXPECT_EQ(tile->job_id, next);
    Run(*tile);
    ++tiles;
  }
  EXPECT_EQ(tiles, 2);
  EXPECT_EQ(store_->Get(next)->state, core::JobState::kSucceeded);
  // The cancelled job's surplus tokens left the queue while nothing was ready.
  EXPECT_EQ(Cmd({"XLEN", schema_.Queue()}), "0");
  EXPECT_EQ(Cmd({"HLEN", schema_.QueueTasks()}), "0");
}

TEST_F(SchedulingTest, TilesGoOutCoarseToFineSoAQuarterSpansTheGrid) {
  const int64_t rows = 64, cols = 64;  // a 64 x 64 grid, one row per tile
  core::JobSpec s;
  s.model.model = "artifact:" + std::string(64, 'a');
  s.grid.x = core::AxisSpec{-1, 1, cols};
  s.grid.y = core::AxisSpec{-1, 1, rows};
  s.tile_size = cols;
  auto sub = store_->Submit("erin", "", s);
  ASSERT_TRUE(sub.ok());
  PrepareAll(1);
  std::set<int64_t> tiles;
  std::set<int64_t> quarters_x, quarters_y;
  for (int i = 0; i < rows / 4; ++i) {
    auto t = Take();
    ASSERT_TRUE(t.has_value());
    tiles.insert(t->tile.index);
    for (int64_t p = t->tile.begin; p < t->tile.end; ++p) {
      quarters_y.insert((p / cols) * 4 / rows);
      quarters_x.insert((p % cols) * 4 / cols);
    }
    Run(*t);
  }
  EXPECT_EQ(quarters_x, (std::set<int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(quarters_y, (std::set<int64_t>{0, 1, 2, 3}));
  // ... and every fourth row is among them: the coarse pass is regular.
  for (int64_t r = 0; r < rows; r += 4) EXPECT_TRUE(tiles.count(r)) << "row " << r;
  // Every tile goes out exactly once, and the surface completes.
  while (auto t = Take()) {
    EXPECT_TRUE(tiles.insert(t->tile.index).second) << "tile " << t->tile.index << " twice";
    Run(*t);
  }
  EXPECT_EQ(tiles.size(), static_cast<size_t>(rows));
  EXPECT_EQ(store_->Get(sub->job.id)->state, core::JobState::kSucceeded);
}

// Quotas on active jobs and on their points not yet done refuse a submit, naming the quota; a job that ends
// (or is cancelled) gives its share back; a retry of an accepted submit is not refused.
TEST_F(SchedulingTest, QuotasOnActiveJobsAndQueuedPointsRefuseASubmitNamingTheQuota) {
  core::JobSpec s;
  s.model.model = "artifact:" + std::string(64, 'a');
  s.grid.x = core::AxisSpec{-1, 1, 40};
  s.tile_size = 10;
  redis::SubmitSchedule q;
  q.max_jobs = 2;
  q.max_queued_points = 100;
  auto first = store_->Submit("frank", "r1", s, q);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(store_->Submit("frank", "r2", s, q).ok());  // 2 jobs, 80 points
  auto third = store_->Submit("frank", "r3", s, q);
  EXPECT_EQ(third.status().code(), core::StatusCode::kResourceExhausted);
  EXPECT_NE(third.status().message().find("max_jobs = 2"), std::string::npos) << third.status();
  EXPECT_NE(third.status().message().find("frank"), std::string::npos) << third.status();
  auto retry = store_->Submit("frank", "r1", s, q);  // the same request: the same job, not a refusal
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_EQ(retry->job.id, first->job.id);
  // Another tenant has its own count.
  EXPECT_TRUE(store_->Submit("grace", "", s, q).ok());

  // Cancelling one job frees a job and its 40 points: 40 queued now.
  ASSERT_TRUE(store_->Cancel(first->job.id).ok());
  redis::SubmitSchedule points_only;
  points_only.max_queued_points = 100;
  core::JobSpec big = s;
  big.grid.x = core::AxisSpec{-1, 1, 70};
  auto over = store_->Submit("frank", "", big, points_only);  // 40 + 70 > 100
  EXPECT_EQ(over.status().code(), core::StatusCode::kResourceExhausted);
  EXPECT_NE(over.status().message().find("max_queued_points = 100"), std::string::npos) << over.status();
  // Points computed leave the count: run the remaining job's preparation and two of its four tiles.
  auto t = Take();  // frank's second job comes before grace's? Either way: run what comes until 20 points of frank's
  int frank_points = 0;
  for (; t && frank_points < 20; t = Take()) {
    Run(*t);
    const auto job = store_->Get(t->job_id);
    if (t->kind == core::Task::Kind::kTile && job->tenant == "frank") frank_points += 10;
  }
  ASSERT_EQ(frank_points, 20);
  EXPECT_TRUE(store_->Submit("frank", "", big, points_only).ok());  // 20 + 70 <= 100
}

// max_tiles_in_flight holds a tenant's tiles beyond the quota while the workers serve others; when one of its
// tiles ends, the next goes out; no tile is lost on the way (tokens dropped while it was held come back).
TEST_F(SchedulingTest, ATenantAtItsTilesInFlightQuotaIsHeldWhileOthersRun) {
  redis::SubmitSchedule q;
  q.max_tiles_in_flight = 2;
  core::JobSpec s;
  s.model.model = "artifact:" + std::string(64, 'a');
  s.grid.x = core::AxisSpec{-1, 1, 20};
  s.tile_size = 1;
  auto held = store_->Submit("henry", "", s, q);
  ASSERT_TRUE(held.ok());
  const std::string free_job = Submit("iris", 20, 1);
  PrepareAll(2);
  // Ten tiles taken and not finished (ten workers busy): henry gets two, iris the other eight.
  std::vector<core::Task> running;
  std::map<std::string, int> taken;
  for (int i = 0; i < 10; ++i) {
    auto t = Take();
    ASSERT_TRUE(t.has_value());
    running.push_back(*t);
    ++taken[t->job_id];
  }
  EXPECT_EQ(taken[held->job.id], 2);
  EXPECT_EQ(taken[free_job], 8);
  EXPECT_EQ(Cmd({"HGET", schema_.Inflight(), "henry"}), "2");
  // One of henry's tiles ends: the next task is henry's again (its turn came while it was held).
  for (size_t i = 0; i < running.size(); ++i) {
    if (running[i].job_id != held->job.id) continue;
    Run(running[i]);
    running.erase(running.begin() + static_cast<std::ptrdiff_t>(i));
    break;
  }
  EXPECT_EQ(Cmd({"HGET", schema_.Inflight(), "henry"}), "1");
  auto next = Take();
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->job_id, held->job.id);
  running.push_back(*next);
  // The rest, finishing each tile at once: iris's job ends, henry's goes on two at a time, no tile lost.
  for (const auto& t : running) Run(t);
  int henry_tiles = 3;
  while (auto t = Take()) {
    if (t->job_id == held->job.id) {
      ++henry_tiles;
      EXPECT_LE(std::stoi(Cmd({"HGET", schema_.Inflight(), "henry"})), 2);
    }
    Run(*t);
  }
  EXPECT_EQ(henry_tiles, 20);
  EXPECT_EQ(store_->Get(held->job.id)->state, core::JobState::kSucceeded);
  EXPECT_EQ(store_->Get(free_job)->state, core::JobState::kSucceeded);
  EXPECT_EQ(Cmd({"HGET", schema_.Inflight(), "henry"}), "0");
}

// Held alone: with only the held tenant's work left, idle workers drop its tokens; each tile that ends puts one
// back, so the job still runs to the end at its quota.
TEST_F(SchedulingTest, AHeldTenantAloneStillRunsToTheEndAtItsQuota) {
  redis::SubmitSchedule q;
  q.max_tiles_in_flight = 2;
  core::JobSpec s;
  s.model.model = "artifact:" + std::string(64, 'a');
  s.grid.x = core::AxisSpec{-1, 1, 12};
  s.tile_size = 1;
  auto job = store_->Submit("jack", "", s, q);
  ASSERT_TRUE(job.ok());
  PrepareAll(1);
  int done = 0;
  while (done < 12) {
    std::vector<core::Task> batch;
    for (int i = 0; i < 3; ++i) {  // three workers ask; at most two get a tile
      if (auto t = Take()) batch.push_back(*t);
    }
    ASSERT_FALSE(batch.empty()) << "the job stalled after " << done << " tiles";
    EXPECT_LE(batch.size(), 2u);
    for (const auto& t : batch) {
      Run(t);
      ++done;
    }
  }
  EXPECT_EQ(store_->Get(job->job.id)->state, core::JobState::kSucceeded);
}

}  // namespace
}  // namespace landscape

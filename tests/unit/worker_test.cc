// The worker loop against an in-memory queue and a trivial evaluator: what
// it acknowledges, skips, releases and fails. (The Redis queue itself is
// tested against a real redis-server in tests/integration.)
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include "process.h"
#include "worker.h"

namespace landscape {
namespace {

using core::JobState;
using core::Status;
using core::Task;

class FakeQueue final : public core::TileQueue {
 public:
  explicit FakeQueue(std::atomic<int>* stop) : stop_(stop) {}

  std::mutex mu;
  std::deque<Task> tasks;
  std::map<std::string, core::JobRecord> jobs;
  std::map<int64_t, std::vector<double>> completed;  // tile -> values
  std::vector<std::string> calls;
  std::string dir_ref;
  int64_t tile_size = 0;
  int fail_completes = 0;  // answer kUnavailable this many times first

  core::Result<std::optional<Task>> Next(std::chrono::milliseconds) override {
    std::lock_guard<std::mutex> lock(mu);
    if (tasks.empty()) {
      stop_->store(worker::kDrain);  // nothing left: let Run() return
      return std::optional<Task>();
    }
    Task t = tasks.front();
    tasks.pop_front();
    return std::optional<Task>(t);
  }
  core::Result<core::JobRecord> LoadJob(const std::string& id) override {
    std::lock_guard<std::mutex> lock(mu);
    auto it = jobs.find(id);
    if (it == jobs.end()) return core::NotFound("no job " + id);
    return it->second;
  }
  core::Result<core::TaskLease> Heartbeat(const Task& t) override {
    std::lock_guard<std::mutex> lock(mu);
    return core::TaskLease{true, jobs.at(t.job_id).state};
  }
  core::Result<bool> BeginPrepare(const Task& t) override {
    std::lock_guard<std::mutex> lock(mu);
    calls.push_back("begin_prepare");
    auto& j = jobs.at(t.job_id);
    if (j.state != JobState::kQueued) return false;
    j.state = JobState::kPreparing;
    return true;
  }
  Status FinishPrepare(const Task& t, const std::string& ref, const std::string& /*proj_ref*/, int64_t size,
                       const std::map<std::string, std::string>& attributes) override {
    std::lock_guard<std::mutex> lock(mu);
    calls.push_back("finish_prepare");
    auto& j = jobs.at(t.job_id);
    j.state = JobState::kRunning;
    j.attributes = attributes;
    j.dir_artifact = dir_ref = ref;
    j.tile_size = tile_size = size;
    for (auto& tile : core::PlanTiles(j.points_total, size)) {
      Task task;
      task.id = "tile-" + std::to_string(tile.index);
      task.job_id = t.job_id;
      task.tile = tile;
      tasks.push_back(task);
    }
    return Status::Ok();
  }
  Status Complete(const Task& t, const std::vector<double>& values, double) override {
    std::lock_guard<std::mutex> lock(mu);
    calls.push_back("complete " + std::to_string(t.tile.index));
    if (fail_completes > 0) {
      --fail_completes;
      return core::Unavailable("redis is restarting");
    }
    completed.emplace(t.tile.index, values);
    return Status::Ok();
  }
  Status Skip(const Task& t) override { return Record("skip " + std::to_string(t.tile.index)); }
  Status Release(const Task& t) override { return Record("release " + std::to_string(t.tile.index)); }
  Status Fail(const Task& t, const Status& reason) override {
    std::lock_guard<std::mutex> lock(mu);
    calls.push_back("fail " + reason.ToString());
    jobs.at(t.job_id).state = JobState::kFailed;
    return Status::Ok();
  }
  core::Result<core::CrashOutcome> Crashed(const Task& t, const Status& reason) override {
    std::lock_guard<std::mutex> lock(mu);
    calls.push_back("crashed " + std::to_string(t.tile.index) + " " + reason.ToString());
    return core::CrashOutcome::kReleased;
  }

 private:
  Status Record(const std::string& c) {
    std::lock_guard<std::mutex> lock(mu);
    calls.push_back(c);
    return Status::Ok();
  }
  std::atomic<int>* stop_;
};

class FakeArtifacts final : public core::ArtifactStore {
 public:
  core::Result<std::string> PutFile(const std::string& path) override {
    put_contents = testing::ReadFile(path);
    if (!put_error.ok()) return put_error;
    return std::string(64, 'd');
  }
  Status FetchToFile(const std::string&, const std::string&) override { return core::Status(core::StatusCode::kUnimplemented, "unused"); }
  std::string put_contents;
  Status put_error;
};

// Values: metric m at point k = 100 * m + k. `on_point` runs before each point.
class FakeEvaluator final : public core::TileEvaluator {
 public:
  FakeEvaluator(size_t metrics, std::function<void(int64_t)> on_point, std::atomic<int>* points)
      : metrics_(metrics), on_point_(std::move(on_point)), points_(points) {}
  core::Result<std::vector<double>> Evaluate(const core::Tile& tile, const std::function<bool()>& keep_going) override {
    std::vector<double> out(metrics_ * static_cast<size_t>(tile.size()));
    for (int64_t k = tile.begin; k < tile.end; ++k) {
      if (!keep_going()) return Status(core::StatusCode::kCancelled, "stopped");
      if (on_point_) on_point_(k);
      points_->fetch_add(1);
      for (size_t m = 0; m < metrics_; ++m) out[m * static_cast<size_t>(tile.size()) + static_cast<size_t>(k - tile.begin)] = 100.0 * m + k;
    }
    return out;
  }

 private:
  size_t metrics_;
  std::function<void(int64_t)> on_point_;
  std::atomic<int>* points_;
};

class FakeFactory final : public core::EvaluatorFactory {
 public:
  core::Result<core::PreparedFiles> Prepare(const core::JobSpec& spec, const std::string& scratch) override {
    if (!prepare_error.ok()) return prepare_error;
    core::PreparedFiles files;
    files.directions = scratch + "/dirs.h5";
    std::ofstream(files.directions) << "directions of " << spec.model.model;
    files.attributes["hessian_definition"] = "of " + spec.model.model;
    return files;
  }
  core::Result<std::unique_ptr<core::TileEvaluator>> Open(const core::JobSpec& spec) override {
    opened_specs.push_back(spec);
    return std::unique_ptr<core::TileEvaluator>(new FakeEvaluator(spec.MetricNames().size(), on_point, &points));
  }
  Status prepare_error;
  std::function<void(int64_t)> on_point;
  std::vector<core::JobSpec> opened_specs;
  std::atomic<int> points{0};
};

class WorkerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    scratch_ = scratch_dir_.path();
    core::JobRecord j;
    j.id = "job1";
    j.state = JobState::kQueued;
    j.spec.model.model = "artifact:" + std::string(64, 'a');
    j.spec.grid.x = core::AxisSpec{-1, 1, 10};
    j.spec.tile_size = 4;  // tiles [0,4) [4,8) [8,10)
    j.points_total = 10;
    queue_.jobs["job1"] = j;
    Task prepare;
    prepare.kind = Task::Kind::kPrepare;
    prepare.id = "prep";
    prepare.job_id = "job1";
    queue_.tasks.push_back(prepare);
    opts_.scratch_dir = scratch_;
    opts_.heartbeat = std::chrono::milliseconds(10);
    opts_.max_backoff = std::chrono::milliseconds(10);
  }

  void Run() {
    worker::Worker w(opts_, queue_, queue_, artifacts_, factory_);
    w.Run(stop_);
    stats_ = w.stats();
  }

  testing::ScopedTempDir scratch_dir_{"landscape-worker-test"};
  std::string scratch_;
  std::atomic<int> stop_{0};
  FakeQueue queue_{&stop_};
  FakeArtifacts artifacts_;
  FakeFactory factory_;
  worker::WorkerOptions opts_;
  worker::WorkerStats stats_;
};

TEST_F(WorkerTest, PreparesOnceThenComputesEveryTileFromThePreparedDirections) {
  Run();
  EXPECT_EQ(queue_.dir_ref, "artifact:" + std::string(64, 'd'));
  EXPECT_EQ(artifacts_.put_contents, "directions of artifact:" + std::string(64, 'a'));
  EXPECT_EQ(queue_.tile_size, 4);
  // What the surface says of its computation travels with the job.
  EXPECT_EQ(queue_.jobs["job1"].attributes,
            (std::map<std::string, std::string>{{"hessian_definition", "of artifact:" + std::string(64, 'a')}}));
  ASSERT_EQ(queue_.completed.size(), 3u);
  EXPECT_EQ(queue_.completed[2], (std::vector<double>{8, 9, 108, 109}));  // metric-major
  // One evaluator for the whole job, reading the prepared file, not regenerating directions.
  ASSERT_EQ(factory_.opened_specs.size(), 1u);
  EXPECT_EQ(factory_.opened_specs[0].directions.kind, core::DirectionKind::kFile);
  EXPECT_EQ(factory_.opened_specs[0].directions.file, queue_.dir_ref);
  EXPECT_EQ(stats_.prepared, 1);
  EXPECT_EQ(stats_.tiles_done, 3);
}

TEST_F(WorkerTest, APreparationErrorFailsTheJobWithTheReason) {
  factory_.prepare_error = core::Status(core::StatusCode::kFailedPrecondition, "the data do not fit the model", "data");
  Run();
  ASSERT_FALSE(queue_.calls.empty());
  EXPECT_EQ(queue_.calls.back(), "fail data: the data do not fit the model");
  EXPECT_EQ(queue_.jobs["job1"].state, JobState::kFailed);
  EXPECT_TRUE(queue_.completed.empty());
  EXPECT_EQ(stats_.jobs_failed, 1);
}

TEST_F(WorkerTest, ADirectionFileTheStoreRefusesFailsTheJobWithTheReason) {
  artifacts_.put_error = core::Status(core::StatusCode::kResourceExhausted, "artifact of 2 GiB over the limit of 1 GiB");
  Run();
  ASSERT_FALSE(queue_.calls.empty());
  EXPECT_EQ(queue_.calls.back(),
            "fail storing the prepared files: artifact of 2 GiB over the limit of 1 GiB");
  EXPECT_EQ(queue_.jobs["job1"].state, JobState::kFailed);
  EXPECT_TRUE(queue_.completed.empty());
  EXPECT_EQ(stats_.jobs_failed, 1);
}

TEST_F(WorkerTest, CancellationAbandonsTheRunningTileAndSkipsTheRest) {
  factory_.on_point = [&](int64_t k) {
    if (k == 1) {
      std::lock_guard<std::mutex> lock(queue_.mu);
      queue_.jobs["job1"].state = JobState::kCancelled;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(30));  // a few heartbeats per point
  };
  Run();
  EXPECT_TRUE(queue_.completed.empty());  // never acknowledged with values
  // Tile 0 stopped within a point or two of the cancellation; tiles 1 and 2 never started.
  EXPECT_LE(factory_.points.load(), 3);
  std::vector<std::string> skips;
  for (const auto& c : queue_.calls)
    if (c.rfind("skip", 0) == 0) skips.push_back(c);
  EXPECT_EQ(skips, (std::vector<std::string>{"skip 0", "skip 1", "skip 2"}));
  EXPECT_EQ(stats_.tasks_abandoned, 1);
  EXPECT_EQ(stats_.tiles_skipped, 2);
}

TEST_F(WorkerTest, StoringIsRetriedWhileRedisIsUnavailable) {
  queue_.fail_completes = 2;
  Run();
  EXPECT_EQ(queue_.completed.size(), 3u);
  int tile0 = 0;
  for (const auto& c : queue_.calls) tile0 += c == "complete 0";
  EXPECT_EQ(tile0, 3);
  EXPECT_EQ(stats_.tiles_done, 3);
}

TEST_F(WorkerTest, DrainingGivesBackATileThatCannotFinishInTime) {
  opts_.drain_timeout = std::chrono::milliseconds(50);
  factory_.on_point = [&](int64_t k) {
    if (k == 0) stop_.store(worker::kDrain);  // SIGTERM while the first tile runs
    std::this_thread::sleep_for(std::chrono::milliseconds(40));
  };
  Run();
  EXPECT_TRUE(queue_.completed.empty());
  EXPECT_EQ(std::count(queue_.calls.begin(), queue_.calls.end(), "release 0"), 1);
}

}  // namespace
}  // namespace landscape

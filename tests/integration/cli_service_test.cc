// The `landscape` CLI against a real landscape-server and landscape-worker (issue 20): built-in
// architecture names on submit, Ctrl-C during `submit --watch`, rates and ETAs from live progress
// only, `watch --json` and `list --json`. Each test has its own redis-server and processes.
#include <gtest/gtest.h>
#include <signal.h>

#include <nlohmann/json.hpp>
#include <fstream>
#include <regex>
#include <sstream>

#include "cluster.h"

namespace landscape {
namespace {

using std::chrono::seconds;
using testing::WaitFor;

bool Has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Redis, a server and (when started) one worker "w", logging into the test's directory; the model of every
// job here is a freshly initialized built-in CNN as TorchScript.
class MiniCluster : public testing::Cluster {
 public:
  MiniCluster() : Cluster(Options()) {
    auto r = Cli({"export-arch", "--arch", "cnn", "--input", "1x28x28", "--classes", "10", "--out", Model()});
    EXPECT_EQ(r.exit_code, 0) << r.output;
  }
  static testing::ClusterOptions Options() {
    testing::ClusterOptions o;
    o.dir_prefix = "landscape-cli-service";
    o.start_server = true;
    o.worker_flags = {"--threads", "1", "--poll-ms", "200"};
    return o;
  }

  void StartWorker() { Cluster::StartWorker("w"); }
  std::string Model() const { return dir() + "/m.pt"; }

  // The arguments of a small job (`tiles` tiles of one point) on synthetic data.
  std::vector<std::string> Job(const std::string& command, int tiles) const {
    return {command, "--server", Addr(), "--model", Model(), "--data", "synthetic:32:1x28x28", "--x",
            "-1:1:" + std::to_string(tiles), "--tile-size", "1"};
  }
  // Submits without watching; returns the job's name ("jobs/...").
  std::string Submit(const std::vector<std::string>& extra = {}, int tiles = 3) {
    std::vector<std::string> args = Job("submit", tiles);
    args.erase(args.begin(), args.begin() + 3);  // Cluster::Submit gives "submit --server ADDR"
    args.insert(args.end(), extra.begin(), extra.end());
    const std::string id = Cluster::Submit(args);
    return id.empty() ? "" : "jobs/" + id;
  }
};

// `--arch cnn` names a built-in architecture: the CLI uploads nothing for it, and the server and the
// worker take the name (the model here is TorchScript, which brings its own architecture).
TEST(CliService, SubmitTakesABuiltInArchitectureName) {
  MiniCluster c;
  c.StartWorker();
  std::vector<std::string> args = c.Job("submit", 3);
  args.insert(args.end(), {"--arch", "cnn", "--watch", "--progress", "quiet"});
  auto r = c.Cli(args);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(Has(r.output, "SUCCEEDED")) << r.output;
  EXPECT_FALSE(Has(r.output, "uploading cnn")) << r.output;
  EXPECT_FALSE(Has(r.output, "no such file")) << r.output;
}

// Ctrl-C during `submit --watch --out`: exit 130, and the note says the job runs on, with its name and
// the commands that follow, download and cancel it. No worker runs: the job stays queued.
TEST(CliService, InterruptedSubmitWatchSaysTheJobRunsOn) {
  MiniCluster c;
  std::vector<std::string> args = c.Job("submit", 3);
  args.insert(args.end(), {"--watch", "--progress", "lines", "--out", c.dir() + "/s.h5"});
  auto cli = c.StartCli(args, "submit.log");
  ASSERT_TRUE(WaitFor([&] { return Has(cli->Log(), "QUEUED"); }, seconds(60))) << cli->Log();
  std::smatch m;
  const std::string before = cli->Log();
  ASSERT_TRUE(std::regex_search(before, m, std::regex("jobs/[0-9a-f]+"))) << before;
  const std::string job = m[0].str();
  cli->Signal(SIGINT);
  EXPECT_EQ(cli->Wait(seconds(30)), 130) << cli->Log();
  const std::string out = cli->Log();
  EXPECT_TRUE(Has(out, "landscape: interrupted; " + job + " runs on on the server")) << out;
  EXPECT_TRUE(Has(out, "landscape watch " + job)) << out;
  EXPECT_TRUE(Has(out, "landscape get " + job + " --out")) << out;
  EXPECT_TRUE(Has(out, "landscape cancel " + job)) << out;
  // The job is still there, queued (`list --json`: an array of one object per job).
  auto list = c.Cli({"list", "--server", c.Addr(), "--json"});
  ASSERT_EQ(list.exit_code, 0) << list.output;
  const auto jobs = nlohmann::json::parse(list.output);
  ASSERT_TRUE(jobs.is_array()) << list.output;
  ASSERT_EQ(jobs.size(), 1u) << list.output;
  EXPECT_EQ(jobs[0]["name"], job);
  EXPECT_EQ(jobs[0]["state"], "QUEUED");
  EXPECT_EQ(jobs[0]["points_total"], 3);
}

// Rates and ETAs come from progress seen live: a watch that saw the job run ends with a rate; a watch
// of the finished job replays its events and shows none (no "rate=", no "eta=").
TEST(CliService, WatchRatesComeFromLiveProgressOnly) {
  MiniCluster c;
  const std::string job = c.Submit({}, 4);
  auto live = c.StartCli({"watch", "--server", c.Addr(), job, "--progress", "lines"}, "live.log");
  ASSERT_TRUE(WaitFor([&] { return Has(live->Log(), "QUEUED"); }, seconds(60))) << live->Log();
  c.StartWorker();
  ASSERT_EQ(live->Wait(seconds(120)), 0) << live->Log();
  EXPECT_TRUE(Has(live->Log(), "progress done=4 total=4 pct=100.0 rate=")) << live->Log();

  auto replay = c.Cli({"watch", "--server", c.Addr(), job, "--progress", "lines"});
  EXPECT_EQ(replay.exit_code, 0) << replay.output;
  EXPECT_TRUE(Has(replay.output, job + " SUCCEEDED")) << replay.output;
  EXPECT_FALSE(Has(replay.output, "rate=")) << replay.output;
  EXPECT_FALSE(Has(replay.output, "eta=")) << replay.output;
  auto bar = c.Cli({"watch", "--server", c.Addr(), job, "--progress", "bar"});
  EXPECT_EQ(bar.exit_code, 0) << bar.output;
  EXPECT_FALSE(Has(bar.output, "/s")) << bar.output;
  EXPECT_FALSE(Has(bar.output, "ETA")) << bar.output;
}

// A job whose model file is corrupt fails with a message naming the file as submitted (its name and
// artifact reference), never a path of the worker's cache.
TEST(CliService, FailedJobNamesTheSubmittedFileNotTheWorkersCache) {
  MiniCluster c;
  c.StartWorker();
  const std::string corrupt = c.dir() + "/r20.pt";
  std::ofstream(corrupt) << "PK\x03\x04 this is not a TorchScript archive";
  std::vector<std::string> args = c.Job("submit", 3);
  args[4] = corrupt;  // --model
  args.insert(args.end(), {"--watch", "--progress", "quiet"});
  auto r = c.Cli(args);
  EXPECT_EQ(r.exit_code, 3) << r.output;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.output, m, std::regex("FAILED: .*"))) << r.output;
  const std::string failed = m[0].str();  // "FAILED: model.model: r20.pt (artifact:...): ..."
  EXPECT_TRUE(Has(failed, "model.model: r20.pt (artifact:")) << failed;
  EXPECT_FALSE(Has(failed, "cache-w")) << failed;
  EXPECT_FALSE(Has(failed, c.dir())) << failed;
  auto list = c.Cli({"list", "--server", c.Addr(), "--json"});
  ASSERT_EQ(list.exit_code, 0) << list.output;
  const auto jobs = nlohmann::json::parse(list.output);
  ASSERT_EQ(jobs.size(), 1u) << list.output;
  EXPECT_EQ(jobs[0]["state"], "FAILED");
  EXPECT_TRUE(Has(jobs[0]["error"].get<std::string>(), "r20.pt (artifact:")) << list.output;
  EXPECT_FALSE(Has(jobs[0]["error"].get<std::string>(), "cache-w")) << list.output;
}

// `submit --json` (the summary of the finished job): its timings from the job record (queue wait,
// prepare, compute, total: each >= 0, and total their sum within the record's millisecond times), the
// uploaded model's name beside its artifact reference, and the scalars nested by their names' parts.
TEST(CliService, ServiceJsonSummaryHasTimingsFileNamesAndNestedScalars) {
  MiniCluster c;
  c.StartWorker();
  std::vector<std::string> args = c.Job("submit", 3);
  args.insert(args.end(), {"--progress", "quiet", "--json", c.dir() + "/s.json"});
  auto r = c.Cli(args);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto j = nlohmann::json::parse(testing::ReadFile(c.dir() + "/s.json"));
  const auto& t = j["timings_s"];
  for (const char* k : {"queue_wait", "prepare", "compute", "total"}) {
    ASSERT_TRUE(t.contains(k)) << k << "\n" << t.dump();
    EXPECT_GE(t[k].get<double>(), 0.0) << k;
  }
  EXPECT_NEAR(t["queue_wait"].get<double>() + t["prepare"].get<double>() + t["compute"].get<double>(),
              t["total"].get<double>(), 0.01) << t.dump();
  const auto& model = j["spec"]["model"];
  EXPECT_EQ(model["model"].get<std::string>().rfind("artifact:", 0), 0u) << model.dump();
  EXPECT_EQ(model["model_file_name"], "m.pt") << model.dump();
  EXPECT_TRUE(j["scalars"]["train_loss"].contains("min")) << j["scalars"].dump();
  EXPECT_TRUE(j["scalars"]["basin_area"].contains("0.5")) << j["scalars"].dump();
  for (const auto& [key, value] : j["scalars"].items()) {
    EXPECT_EQ(key.find_first_of(".@"), std::string::npos) << key;
  }
}

// `watch --json`: one JSON object per event on stdout (the replayed history, then the end).
TEST(CliService, WatchJsonPrintsOneObjectPerEvent) {
  MiniCluster c;
  c.StartWorker();
  const std::string job = c.Submit({}, 3);
  auto r = c.Cli({"watch", "--server", c.Addr(), job, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::istringstream in(r.output);
  std::string line;
  std::vector<nlohmann::json> events;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << "not JSON: " << line;
    events.push_back(j);
  }
  // QUEUED, PREPARING, RUNNING, 3 tiles, SUCCEEDED.
  ASSERT_EQ(events.size(), 7u) << r.output;
  EXPECT_EQ(events.front()["state"], "QUEUED");
  EXPECT_EQ(events.back()["state"], "SUCCEEDED");
  int tiles = 0;
  for (const auto& e : events) {
    EXPECT_TRUE(e.contains("cursor")) << e.dump();
    if (!e.contains("tile")) continue;
    ++tiles;
    EXPECT_EQ(e["tile"]["end"].get<int>() - e["tile"]["begin"].get<int>(), 1) << e.dump();
    EXPECT_EQ(e["tile"]["metrics"]["train_loss"].size(), 1u) << e.dump();
  }
  EXPECT_EQ(tiles, 3);
  EXPECT_EQ(events.back()["progress"]["points_done"], 3);
}

}  // namespace
}  // namespace landscape

// Tenants' limits with real processes: limits refuse a job at submit (RESOURCE_EXHAUSTED naming the field
// and the flag); a wrong token is CLI exit 77 and /metrics needs its token; the tokens file sets each
// tenant's weight and quotas; a small job is not held behind a big one, and priorities order a tenant's
// jobs.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <functional>
#include <sstream>

#include "tenant_test_support.h"

namespace landscape {
namespace {

using namespace tenant_test;  // the set-up the tenant_isolation_test files share
using std::chrono::seconds;
using testing::RpcContext;
using testing::WaitFor;

// --- Bounded work --------------------------------------------------------------------------------

TEST(TenantIsolationTest, EveryLimitRefusesAJobAtSubmitNamingItsFlag) {
  testing::Cluster c(TenantCluster());
  c.StartServer();
  auto stub = c.Stub();
  const std::string model_bytes = testing::ReadFile(MakeModel(c, "m.pt", 4));
  const std::string ref = "artifact:" + Upload(stub.get(), kAlice, model_bytes);

  // The defaults refuse 10^12 samples and absurd Hessian work.
  v1::JobSpec s = SmallSpec(ref);
  s.mutable_data()->set_max_samples(1'000'000'000'000);
  ExpectRefused(Submit(stub.get(), kAlice, s), grpc::StatusCode::RESOURCE_EXHAUSTED, "data.max_samples",
                "over the limit of 1000000 set by --max-samples", "10^12 samples");
  s = SmallSpec(ref);
  s.mutable_hessian()->set_enabled(true);
  s.mutable_hessian()->set_max_iterations(1'000'000'000);
  ExpectRefused(Submit(stub.get(), kAlice, s), grpc::StatusCode::RESOURCE_EXHAUSTED, "hessian.max_iterations",
                "over the limit of 1000 set by --max-hessian-iterations", "10^9 iterations");
  // The 3,000-checkpoint PCA job.
  s = SmallSpec(ref);
  s.mutable_directions()->set_kind(v1::DIRECTION_KIND_PCA);
  for (int i = 0; i < 3000; ++i) s.mutable_model()->add_checkpoints(ref);
  ExpectRefused(Submit(stub.get(), kAlice, s), grpc::StatusCode::RESOURCE_EXHAUSTED, "model.checkpoints",
                "3000 checkpoints is over the limit of 1000 set by --max-checkpoints", "3000 checkpoints");

  // Smaller limits set by the operator.
  const int64_t size = static_cast<int64_t>(model_bytes.size());
  c.StartServer({"--max-samples", "1000", "--max-checkpoints", "4", "--max-checkpoint-bytes",
                 std::to_string(3 * size), "--max-hessian-iterations", "50", "--max-hessian-samples", "100"});
  struct Case {
    std::string what, field, rule;
    std::function<void(v1::JobSpec*)> set;
  };
  const std::vector<Case> cases{
      {"explicit samples", "data.max_samples", "1001 samples per split is over the limit of 1000 set by --max-samples",
       [](v1::JobSpec* j) { j->mutable_data()->set_max_samples(1001); }},
      {"every sample of a built-in set", "data.source", "60000 samples per split is over the limit of 1000",
       [](v1::JobSpec* j) { j->mutable_data()->set_source("fashion-mnist"); }},
      {"synthetic data", "data.source", "5000 samples per split is over the limit of 1000",
       [](v1::JobSpec* j) { j->mutable_data()->set_source("synthetic:5000:1x28x28"); }},
      {"checkpoints", "model.checkpoints", "5 checkpoints is over the limit of 4 set by --max-checkpoints",
       [&](v1::JobSpec* j) {
         j->mutable_directions()->set_kind(v1::DIRECTION_KIND_PCA);
         for (int i = 0; i < 5; ++i) j->mutable_model()->add_checkpoints(ref);
       }},
      {"checkpoint bytes", "model.checkpoints",
       std::to_string(4 * size) + " bytes of checkpoints is over the limit of " + std::to_string(3 * size) +
           " set by --max-checkpoint-bytes",
       [&](v1::JobSpec* j) {
         j->mutable_directions()->set_kind(v1::DIRECTION_KIND_PCA);
         for (int i = 0; i < 4; ++i) j->mutable_model()->add_checkpoints(ref);
       }},
      {"hessian iterations", "hessian.max_iterations", "51 iterations is over the limit of 50",
       [](v1::JobSpec* j) {
         j->mutable_hessian()->set_enabled(true);
         j->mutable_hessian()->set_max_iterations(51);
       }},
      {"hessian samples", "hessian.max_samples",
       "101 samples is over the limit of 100 set by --max-hessian-samples",
       [](v1::JobSpec* j) {
         j->mutable_hessian()->set_enabled(true);
         j->mutable_hessian()->set_max_iterations(50);
         j->mutable_hessian()->set_max_samples(101);
       }},
      {"hessian on the whole evaluation set", "hessian.max_samples", "200 samples is over the limit of 100",
       [](v1::JobSpec* j) {
         j->mutable_data()->set_max_samples(200);
         j->mutable_hessian()->set_enabled(true);
         j->mutable_hessian()->set_max_iterations(50);
       }},
  };
  for (const Case& k : cases) {
    v1::JobSpec j = SmallSpec(ref);
    k.set(&j);
    ExpectRefused(Submit(stub.get(), kAlice, j), grpc::StatusCode::RESOURCE_EXHAUSTED, k.field, k.rule, k.what);
  }
  // At the limits: accepted.
  v1::JobSpec at = SmallSpec(ref);
  at.mutable_data()->set_max_samples(1000);
  at.mutable_hessian()->set_enabled(true);
  at.mutable_hessian()->set_max_iterations(50);
  at.mutable_hessian()->set_max_samples(100);
  at.mutable_directions()->set_kind(v1::DIRECTION_KIND_PCA);
  for (int i = 0; i < 3; ++i) at.mutable_model()->add_checkpoints(ref);
  const grpc::Status ok = Submit(stub.get(), kAlice, at);
  EXPECT_TRUE(ok.ok()) << ok.error_message();
  // The CLI shows the refusal and exits 2.
  auto cli = c.Cli({"submit", "--server", c.Addr(), "--model", c.dir() + "/m.pt", "--data", "synthetic:32:1x28x28",
                    "--max-samples", "5000", "--x", "-1:1:3"},
                   {"LANDSCAPE_TOKEN=" + kAlice});
  EXPECT_EQ(cli.exit_code, 2) << cli.output;
  EXPECT_NE(cli.output.find("--max-samples"), std::string::npos) << cli.output;
}

// --- Tokens --------------------------------------------------------------------------------------

TEST(TenantIsolationTest, WrongTokensExit77AndMetricsNeedTheirToken) {
  testing::Cluster c(TenantCluster());
  const int metrics_port = testing::FreePort();
  const std::string metrics_token_file = c.dir() + "/metrics-token";
  std::ofstream(metrics_token_file) << "scrape-secret-42\n";
  c.StartServer({"--metrics", "127.0.0.1:" + std::to_string(metrics_port), "--metrics-token", metrics_token_file});

  for (const std::vector<std::string>& env :
       {std::vector<std::string>{"LANDSCAPE_TOKEN=wrong-token-0000"}, std::vector<std::string>{},
        std::vector<std::string>{"LANDSCAPE_TOKEN=" + kAlice.substr(0, kAlice.size() - 1)}}) {
    auto r = c.Cli({"list", "--server", c.Addr()}, env);
    EXPECT_EQ(r.exit_code, 77) << r.output;  // EX_NOPERM, not the usage code 2
    EXPECT_NE(r.output.find("token"), std::string::npos) << r.output;
  }
  auto ok = c.Cli({"list", "--server", c.Addr()}, {"LANDSCAPE_TOKEN=" + kAlice});
  EXPECT_EQ(ok.exit_code, 0) << ok.output;

  for (const std::string& auth : {std::string(), std::string("Bearer wrong-secret-0"),
                                  std::string("Bearer scrape-secret-4"), std::string("Basic c2NyYXBlOnNlY3JldA==")}) {
    const std::string refused = testing::HttpGet(metrics_port, "/metrics", auth);
    EXPECT_NE(refused.find(" 401 "), std::string::npos) << auth << ": " << refused;
    EXPECT_EQ(refused.find("landscape_"), std::string::npos) << auth << ": " << refused;
  }
  const std::string scraped = testing::HttpGet(metrics_port, "/metrics", "Bearer scrape-secret-42");
  EXPECT_NE(scraped.find(" 200 "), std::string::npos) << scraped;
  EXPECT_NE(scraped.find("landscape_rpcs_total"), std::string::npos) << scraped;
}

// --- Weights, quotas and priorities ----------------------------------------------------------------

// The metric line of `name` whose labels include every one of `labels`; "" when none.
std::string MetricLine(const std::string& scraped, const std::string& name, const std::vector<std::string>& labels) {
  std::istringstream lines(scraped);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(name + "{", 0) != 0) continue;
    bool all = true;
    for (const auto& l : labels) all = all && line.find(l) != std::string::npos;
    if (all) return line;
  }
  return "";
}

// The tokens file's words reach the queue: alice's weight and quotas, bob under the server's default quota;
// a submit over a quota is RESOURCE_EXHAUSTED naming it (CLI exit 2); a priority travels with the job; the
// per-tenant metrics count each tenant's work.
TEST(TenantIsolationTest, TheTokensFileSetsEachTenantsWeightAndQuotas) {
  testing::Cluster c(TenantCluster());
  c.SetTokens(kAlice + " alice weight=2 max_jobs=1 max_tiles_in_flight=1\n" + kBob + " bob\n");
  const int metrics_port = testing::FreePort();
  c.StartServer({"--metrics", "127.0.0.1:" + std::to_string(metrics_port), "--tenant-max-queued-points", "10"});
  auto stub = c.Stub();
  const std::string model = Upload(stub.get(), kAlice, testing::ReadFile(MakeModel(c, "m.pt", 1)));
  ASSERT_EQ(Upload(stub.get(), kBob, testing::ReadFile(c.dir() + "/m.pt")), model);
  const v1::JobSpec spec = SmallSpec("artifact:" + model);  // 6 points

  v1::Job alice_job;
  ASSERT_TRUE(Submit(stub.get(), kAlice, spec, &alice_job).ok());
  ExpectRefused(Submit(stub.get(), kAlice, spec), grpc::StatusCode::RESOURCE_EXHAUSTED, "max_jobs = 1", "alice",
                "alice's second job");
  // bob: no quota of his own in the file, so the server's default: 6 + 6 points > 10.
  v1::SubmitJobRequest req;
  *req.mutable_spec() = spec;
  req.set_priority(7);
  v1::Job bob_job;
  {
    auto ctx = RpcContext(kBob);
    ASSERT_TRUE(stub->SubmitJob(ctx.get(), req, &bob_job).ok());
  }
  EXPECT_EQ(bob_job.priority(), 7);
  ExpectRefused(Submit(stub.get(), kBob, spec), grpc::StatusCode::RESOURCE_EXHAUSTED, "max_queued_points = 10",
                "bob", "bob's second job");
  req.set_priority(101);
  {
    auto ctx = RpcContext(kBob);
    v1::Job ignored;
    ExpectRefused(stub->SubmitJob(ctx.get(), req, &ignored), grpc::StatusCode::INVALID_ARGUMENT, "priority",
                  "[-100, 100]", "priority 101");
  }
  // The CLI says the same with exit 2.
  const std::string model_path = c.dir() + "/m.pt";
  auto over = c.Cli({"submit", "--server", c.Addr(), "--model", model_path, "--data", "synthetic:32:1x28x28", "--x",
                     "-1:1:3", "--y", "-1:1:2"},
                    {"LANDSCAPE_TOKEN=" + kAlice});
  EXPECT_EQ(over.exit_code, 2) << over.output;
  EXPECT_NE(over.output.find("quota max_jobs = 1"), std::string::npos) << over.output;
  auto bad_priority = c.Cli({"submit", "--server", c.Addr(), "--model", model_path, "--data", "synthetic:32:1x28x28",
                             "--x", "-1:1:3", "--priority", "500"},
                            {"LANDSCAPE_TOKEN=" + kAlice});
  EXPECT_EQ(bad_priority.exit_code, 2) << bad_priority.output;
  EXPECT_NE(bad_priority.output.find("--priority"), std::string::npos) << bad_priority.output;

  EXPECT_EQ(std::stod(c.RedisHGet("lls:weights", "alice")), 2.0);
  EXPECT_EQ(c.RedisHGet("lls:quota:inflight", "alice"), "1");
  const std::string bob_id = bob_job.name().substr(5), alice_id = alice_job.name().substr(5);
  EXPECT_EQ(c.RedisHGet("lls:job:" + bob_id, "priority"), "7");

  c.StartWorker("w1");
  for (const std::string& id : {alice_id, bob_id}) {
    EXPECT_TRUE(WaitFor([&] { return c.RedisHGet("lls:job:" + id, "state") == "SUCCEEDED"; }, seconds(120)))
        << c.RedisHGet("lls:job:" + id, "error");
  }
  // Ended jobs give their share back: alice may submit again.
  EXPECT_TRUE(Submit(stub.get(), kAlice, spec).ok());

  const std::string scraped = testing::HttpGet(metrics_port, "/metrics");
  for (const std::string tenant : {"alice", "bob"}) {
    const std::string who = "tenant=\"" + tenant + "\"";
    const std::string tiles = MetricLine(scraped, "landscape_tenant_tiles_total", {who, "device=\"cpu\""});
    ASSERT_FALSE(tiles.empty()) << scraped;
    // Tiles of the default size: every tile stored is counted, at least one per job.
    EXPECT_GE(std::stod(tiles.substr(tiles.rfind(' ') + 1)), 1) << tiles;
    const std::string secs = MetricLine(scraped, "landscape_tenant_compute_seconds_total", {who});
    ASSERT_FALSE(secs.empty()) << scraped;
    EXPECT_GT(std::stod(secs.substr(secs.rfind(' ') + 1)), 0) << secs;
    const std::string waited = MetricLine(scraped, "landscape_tenant_queue_wait_seconds_count", {who});
    ASSERT_FALSE(waited.empty()) << scraped;
    EXPECT_GE(std::stod(waited.substr(waited.rfind(' ') + 1)), 1) << waited;
    const std::string flying = MetricLine(scraped, "landscape_tenant_tiles_in_flight", {who});
    EXPECT_FALSE(flying.empty()) << scraped;
  }
}

// Fair scheduling with a real worker: a small job of bob submitted behind a big one of alice is done before
// the big one has done a quarter of its tiles; alice's own jobs go by priority, then age.
TEST(TenantIsolationTest, ASmallJobIsNotHeldBehindABigOneAndPrioritiesOrderATenantsJobs) {
  testing::Cluster c(TenantCluster());
  c.StartServer();
  auto stub = c.Stub();
  const std::string model = Upload(stub.get(), kAlice, testing::ReadFile(MakeModel(c, "m.pt", 1)));
  ASSERT_EQ(Upload(stub.get(), kBob, testing::ReadFile(c.dir() + "/m.pt")), model);
  v1::JobSpec big = SmallSpec("artifact:" + model);
  big.mutable_data()->set_source("synthetic:1000:1x28x28");
  big.mutable_grid()->mutable_x()->set_num(8);
  big.mutable_grid()->mutable_y()->set_num(5);
  big.set_tile_size(1);  // 40 tiles
  v1::JobSpec small = SmallSpec("artifact:" + model);
  small.mutable_data()->set_source("synthetic:1000:1x28x28");
  small.mutable_grid()->clear_y();
  small.mutable_grid()->mutable_x()->set_num(2);
  small.set_tile_size(1);  // 2 tiles
  v1::Job big_job, small_job;
  ASSERT_TRUE(Submit(stub.get(), kAlice, big, &big_job).ok());
  const std::string big_id = big_job.name().substr(5);
  c.StartWorker("w1");
  ASSERT_TRUE(WaitFor([&] { return std::atoi(c.RedisHGet("lls:job:" + big_id, "tiles_done").c_str()) >= 1; }, seconds(120)));
  ASSERT_TRUE(Submit(stub.get(), kBob, small, &small_job).ok());
  const std::string small_id = small_job.name().substr(5);
  ASSERT_TRUE(WaitFor([&] { return c.RedisHGet("lls:job:" + small_id, "state") == "SUCCEEDED"; }, seconds(120)));
  const int big_done = std::stoi(c.RedisHGet("lls:job:" + big_id, "tiles_done"));
  EXPECT_LT(big_done, 10) << "the small job waited for a quarter of the big one";

  // alice's next jobs, submitted while the big one runs: priority first, then age.
  std::vector<std::string> ids;
  for (int priority : {0, 5, 0}) {
    v1::SubmitJobRequest req;
    *req.mutable_spec() = small;
    req.set_priority(priority);
    v1::Job job;
    auto ctx = RpcContext(kAlice);
    ASSERT_TRUE(stub->SubmitJob(ctx.get(), req, &job).ok());
    ids.push_back(job.name().substr(5));
  }
  for (const auto& id : ids) {
    ASSERT_TRUE(WaitFor([&] { return c.RedisHGet("lls:job:" + id, "state") == "SUCCEEDED"; }, seconds(120)));
  }
  const auto started = [&](const std::string& id) { return std::stoll(c.RedisHGet("lls:job:" + id, "started_ms")); };
  EXPECT_LT(started(ids[1]), started(ids[0])) << "priority 5 before priority 0";
  EXPECT_LT(started(ids[0]), started(ids[2])) << "then the older of the two";
}

}  // namespace
}  // namespace landscape

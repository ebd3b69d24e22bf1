// The service's API with real processes: bad flags and bad input get a clear status each (workers keep
// running, no job is stuck), cancel stops work and the job's keys expire, health, reflection and
// Prometheus metrics, deadlines, TLS.
#include <gtest/gtest.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <fstream>
#include <regex>

#include "grpc/health/v1/health.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "service_test_support.h"

namespace landscape {
namespace {

using namespace service_test;  // the set-up the service_test files share
using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::CountOf;
using testing::Process;
using testing::RunCommand;
using testing::WaitFor;

const std::string kCli = testing::CliBinary();
const std::string kServer = testing::ServerBinary();
const std::string kWorker = testing::WorkerBinary();

// --- 3. Bad input: a clear status each, workers keep running, no job stuck ------------------------

// The binaries' usage errors (a bad flag or value) exit 2, as the CLI's do, naming the flag.
TEST(ServiceTest, BadFlagsExitWithTheUsageCode) {
  struct Case {
    std::vector<std::string> argv;
    const char* needle;
  } cases[] = {
      {{kWorker, "--threads", "-1"}, "--threads"},
      {{kWorker, "--first-layer", "sometimes"}, "--first-layer"},
      {{kServer, "--bogus"}, "--bogus"},
      {{kCli, "local", "--model", "m.pt", "--x", "0:1:2", "--out", "o.h5", "--threads", "-1"}, "--threads"},
  };
  for (const auto& c : cases) {
    auto r = RunCommand(c.argv, seconds(30));
    EXPECT_EQ(r.exit_code, 2) << c.argv[0] << " " << c.argv[1] << "\n" << r.output;
    EXPECT_NE(r.output.find(c.needle), std::string::npos) << r.output;
  }
  EXPECT_EQ(RunCommand({kWorker, "--help"}, seconds(30)).exit_code, 0);
}

TEST(ServiceTest, BadInputGetsAClearErrorAndNothingIsLeftRunning) {
  testing::Cluster c(ServiceCluster());
  c.SetTokens("good-token-1234 alice\nother-token-5678 bob\n");
  c.StartServer({"--max-points", "1000"});
  Process* w1 = c.StartWorker("w1");
  Process* w2 = c.StartWorker("w2");
  auto stub = c.Stub();
  const std::string good = "good-token-1234";

  auto submit = [&](const v1::JobSpec& spec, const std::string& token) {
    v1::SubmitJobRequest req;
    *req.mutable_spec() = spec;
    v1::Job job;
    auto ctx = testing::RpcContext(token);
    return stub->SubmitJob(ctx.get(), req, &job);
  };
  v1::JobSpec base;
  base.mutable_model()->set_model("artifact:" + std::string(64, '0'));
  base.mutable_grid()->mutable_x()->set_min(-1);
  base.mutable_grid()->mutable_x()->set_max(1);
  base.mutable_grid()->mutable_x()->set_num(3);

  // Malformed specs: the field is named.
  v1::JobSpec s = base;
  s.mutable_grid()->clear_x();
  auto st = submit(s, good);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("grid.x"), std::string::npos) << st.error_message();
  s = base;
  s.mutable_grid()->mutable_x()->set_num(0);
  st = submit(s, good);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("grid.x"), std::string::npos) << st.error_message();
  s = base;
  s.mutable_data()->set_batch_size(-5);
  st = submit(s, good);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("data.batch_size"), std::string::npos) << st.error_message();
  s = base;
  s.set_loss(static_cast<v1::Loss>(77));
  st = submit(s, good);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("loss"), std::string::npos) << st.error_message();
  s = base;
  s.mutable_model()->set_model("/home/me/model.pt");  // a path the workers cannot read
  st = submit(s, good);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("model.model"), std::string::npos) << st.error_message();
  // An unknown artifact.
  st = submit(base, good);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(st.error_message().find("model.model: unknown artifact"), std::string::npos) << st.error_message();
  // A grid over the configured limit of 1000 points.
  s = base;
  s.mutable_grid()->mutable_x()->set_num(50);
  *s.mutable_grid()->mutable_y() = s.grid().x();
  st = submit(s, good);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(st.error_message().find("over the limit of 1000"), std::string::npos) << st.error_message();
  // Wrong and missing tokens.
  EXPECT_EQ(submit(base, "wrong-token-0000").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(submit(base, "").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  auto cli = c.Cli({"list", "--server", c.Addr(), "--token", "wrong-token-0000"});
  EXPECT_EQ(cli.exit_code, 77) << cli.output;  // EX_NOPERM
  EXPECT_NE(cli.output.find("unknown token"), std::string::npos) << cli.output;
  auto grid = c.Cli({"submit", "--server", c.Addr(), "--model", Model(), "--x", "-1:1:50", "--y", "-1:1:50"},
                    {"LANDSCAPE_TOKEN=" + good});
  EXPECT_EQ(grid.exit_code, 2) << grid.output;
  EXPECT_NE(grid.output.find("over the limit"), std::string::npos) << grid.output;
  // No server at all: exit 69.
  auto gone = c.Cli({"list", "--server", "127.0.0.1:" + std::to_string(testing::FreePort()), "--timeout", "5"});
  EXPECT_EQ(gone.exit_code, 69) << gone.output;

  // A corrupt model and data that do not fit the model: accepted, then FAILED by a worker with the reason.
  const std::string corrupt = c.dir() + "/corrupt.pt";
  std::ofstream(corrupt) << "this is not a TorchScript archive";
  auto bad = c.Cli({"submit", "--server", c.Addr(), "--model", corrupt, "--x", "-1:1:3", "--max-samples", "10",
                    "--watch", "--progress", "quiet"},
                   {"LANDSCAPE_TOKEN=" + good});
  EXPECT_EQ(bad.exit_code, 3) << bad.output;
  EXPECT_NE(bad.output.find("FAILED: model.model"), std::string::npos) << bad.output;
  EXPECT_NE(bad.output.find("not a model file"), std::string::npos) << bad.output;
  const std::string rgb = c.dir() + "/rgb.pt";
  ASSERT_EQ(c.Cli({"export-arch", "--arch", "cnn", "--input", "3x32x32", "--out", rgb}).exit_code, 0);
  auto misfit = c.Cli({"submit", "--server", c.Addr(), "--model", rgb, "--data", "fashion-mnist", "--x", "-1:1:3",
                       "--max-samples", "10", "--watch", "--progress", "quiet"},
                      {"LANDSCAPE_TOKEN=" + good});
  EXPECT_EQ(misfit.exit_code, 3) << misfit.output;
  EXPECT_NE(misfit.output.find("the data do not fit the model"), std::string::npos) << misfit.output;

  // The workers are alive and still work; bob does not see alice's jobs.
  EXPECT_TRUE(w1->Running());
  EXPECT_TRUE(w2->Running());
  std::vector<std::string> ok_args{"submit", "--server", c.Addr(), "--watch", "--progress", "quiet"};
  auto spec = SpecArgs(100, 0);
  ok_args.insert(ok_args.end(), spec.begin(), spec.end());
  auto ok = c.Cli(ok_args, {"LANDSCAPE_TOKEN=" + good});
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  auto mine = c.Cli({"list", "--server", c.Addr()}, {"LANDSCAPE_TOKEN=" + good});
  EXPECT_EQ(CountOf(mine.output, "jobs/"), 3) << mine.output;
  EXPECT_EQ(CountOf(mine.output, "FAILED"), 2) << mine.output;
  EXPECT_EQ(CountOf(mine.output, "RUNNING") + CountOf(mine.output, "QUEUED") + CountOf(mine.output, "PREPARING"), 0);
  auto theirs = c.Cli({"list", "--server", c.Addr()}, {"LANDSCAPE_TOKEN=other-token-5678"});
  EXPECT_EQ(CountOf(theirs.output, "jobs/"), 0) << theirs.output;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(ok.output, m, std::regex("jobs/[0-9a-f]+")));
  auto other = c.Cli({"get", "--server", c.Addr(), m.str(), "--out", c.dir() + "/x.h5"},
                     {"LANDSCAPE_TOKEN=other-token-5678"});
  EXPECT_EQ(other.exit_code, 2) << other.output;
  EXPECT_NE(other.output.find("not found"), std::string::npos) << other.output;
}

// --- 4. Cancel ------------------------------------------------------------------------------------

TEST(ServiceTest, CancelStopsWorkWithinOneTilePerWorkerAndTheKeysExpire) {
  testing::Cluster c(ServiceCluster());
  c.StartServer({"--retention", "8"});
  Process* w1 = c.StartWorker("w1", {"--heartbeat-ms", "200"});
  Process* w2 = c.StartWorker("w2", {"--heartbeat-ms", "200"});
  std::vector<std::string> spec{"--model", Model(), "--max-samples", "1000", "--x", "-1:1:40", "--tile-size", "1"};
  const std::string id = c.Submit(spec);
  ASSERT_TRUE(WaitFor([&] { return std::atoi(c.JobField(id, "tiles_done").c_str()) >= 2; }, seconds(120)));
  const size_t mark1 = w1->Log().size(), mark2 = w2->Log().size();
  {
    auto stub = c.Stub();
    v1::CancelJobRequest req;
    req.set_name("jobs/" + id);
    v1::Job job;
    auto ctx = testing::RpcContext();
    ASSERT_TRUE(stub->CancelJob(ctx.get(), req, &job).ok());
    EXPECT_EQ(job.state(), v1::JOB_STATE_CANCELLED);
  }
  const int done_at_cancel = std::atoi(c.JobField(id, "tiles_done").c_str());
  EXPECT_LT(done_at_cancel, 40);
  // Every remaining task of the job leaves the queue without being computed: the job left the scheduling
  // index at once, so its tiles are never handed out and their tokens are dropped.
  ASSERT_TRUE(WaitFor([&] { return c.RedisInt({"XLEN", "lls:queue"}) == 0; }, seconds(30)));
  // Each worker started at most one tile after the cancellation (one it had already taken); no other
  // tile of the job reached a worker.
  const std::string after1 = w1->Log().substr(mark1), after2 = w2->Log().substr(mark2);
  const int started_after = CountOf(after1, "tile start") + CountOf(after2, "tile start");
  EXPECT_LE(CountOf(after1, "tile start"), 1) << after1;
  EXPECT_LE(CountOf(after2, "tile start"), 1) << after2;
  EXPECT_LE(CountOf(after1, "skipped") + CountOf(after2, "skipped"), 2 - started_after);
  EXPECT_EQ(std::atoi(c.JobField(id, "tiles_done").c_str()), done_at_cancel);  // nothing stored after it
  // The CLI: cancelling again is harmless; a watcher learns the job was cancelled (exit 5).
  auto again = c.Cli({"cancel", "--server", c.Addr(), id});
  EXPECT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find("CANCELLED"), std::string::npos) << again.output;
  auto w = c.Cli({"watch", "--server", c.Addr(), id, "--progress", "quiet"});
  EXPECT_EQ(w.exit_code, 5) << w.output;
  // Then every key of the job expires after the retention (8 s).
  ASSERT_TRUE(WaitFor(
      [&] {
        auto keys = c.Redis({"KEYS", "lls:job:" + id + "*"});
        auto req = c.Redis({"KEYS", "lls:req:*"});
        return keys.size() == 0 && req.size() == 0;
      },
      seconds(30)));
  auto gone = c.Cli({"watch", "--server", c.Addr(), id});
  EXPECT_EQ(gone.exit_code, 2) << gone.output;
  EXPECT_NE(gone.output.find("not found"), std::string::npos) << gone.output;
  EXPECT_TRUE(w1->Running() && w2->Running());
}

// --- 5. Health and reflection ---------------------------------------------------------------------

TEST(ServiceTest, HealthIsServingAndReflectionDescribesTheApi) {
  testing::Cluster c(ServiceCluster());
  const int metrics_port = testing::FreePort();
  c.StartServer({"--metrics", "127.0.0.1:" + std::to_string(metrics_port)});
  auto channel = grpc::CreateChannel(c.Addr(), grpc::InsecureChannelCredentials());
  auto health = grpc::health::v1::Health::NewStub(channel);
  for (const std::string service : {"", "landscape.v1.LandscapeService"}) {
    grpc::health::v1::HealthCheckRequest req;
    req.set_service(service);
    grpc::health::v1::HealthCheckResponse resp;
    auto ctx = testing::RpcContext();
    ASSERT_TRUE(health->Check(ctx.get(), req, &resp).ok()) << service;
    EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::SERVING) << service;
  }

  auto reflection = grpc::reflection::v1alpha::ServerReflection::NewStub(channel);
  auto ctx = testing::RpcContext();
  auto stream = reflection->ServerReflectionInfo(ctx.get());
  grpc::reflection::v1alpha::ServerReflectionRequest req;
  req.set_list_services("");
  ASSERT_TRUE(stream->Write(req));
  grpc::reflection::v1alpha::ServerReflectionResponse resp;
  ASSERT_TRUE(stream->Read(&resp));
  std::vector<std::string> services;
  for (const auto& s : resp.list_services_response().service()) services.push_back(s.name());
  EXPECT_NE(std::find(services.begin(), services.end(), "landscape.v1.LandscapeService"), services.end());
  EXPECT_NE(std::find(services.begin(), services.end(), "grpc.health.v1.Health"), services.end());

  req.set_file_containing_symbol("landscape.v1.LandscapeService");
  ASSERT_TRUE(stream->Write(req));
  ASSERT_TRUE(stream->Read(&resp));
  ASSERT_GT(resp.file_descriptor_response().file_descriptor_proto_size(), 0);
  google::protobuf::FileDescriptorProto file;
  bool found = false;
  for (const auto& bytes : resp.file_descriptor_response().file_descriptor_proto()) {
    ASSERT_TRUE(file.ParseFromString(bytes));
    if (file.package() != "landscape.v1") continue;
    for (const auto& svc : file.service()) {
      if (svc.name() != "LandscapeService") continue;
      found = true;
      std::vector<std::string> methods;
      for (const auto& m : svc.method()) methods.push_back(m.name());
      EXPECT_EQ(methods, (std::vector<std::string>{"UploadArtifact", "SubmitJob", "GetJob", "ListJobs", "CancelJob",
                                                   "WatchJob", "GetSurface", "GetArtifact"}));
    }
  }
  EXPECT_TRUE(found);
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());

  // Prometheus metrics, read from Redis: a queued job (no worker here) is counted.
  const std::string id = c.Submit(SpecArgs(100, 0));
  ASSERT_FALSE(id.empty());
  const std::string metrics = testing::HttpGet(metrics_port, "/metrics");
  EXPECT_NE(metrics.find("landscape_redis_up 1"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("landscape_jobs{state=\"QUEUED\"} 1"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("landscape_queue_length 1"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("landscape_queue_lag 1"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("landscape_tile_seconds_bucket"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("landscape_rpcs_total{code=\"0\",method=\"SubmitJob\"} 1"), std::string::npos) << metrics;
}

TEST(ServiceTest, DeadlinesAreHonoured) {
  testing::Cluster c(ServiceCluster());
  c.StartServer();
  const std::string id = c.Submit(SpecArgs(100, 0));  // no worker: it stays QUEUED
  auto stub = c.Stub();
  v1::WatchJobRequest req;
  req.set_name("jobs/" + id);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + milliseconds(1000));
  const auto t0 = std::chrono::steady_clock::now();
  auto reader = stub->WatchJob(&ctx, req);
  v1::JobEvent ev;
  int events = 0;
  while (reader->Read(&ev)) ++events;
  const grpc::Status st = reader->Finish();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(events, 1);  // QUEUED
  EXPECT_EQ(st.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_LT(secs, 5.0);
  // The CLI maps a missed deadline to exit 75.
  auto r = c.Cli({"get", "--server", c.Addr(), id, "--out", c.dir() + "/s.h5", "--timeout", "0.000001"});
  EXPECT_EQ(r.exit_code, 75) << r.output;
}

TEST(ServiceTest, TlsIsServedWithTheGivenCertificate) {
  testing::Cluster c(ServiceCluster());
  const std::string key = c.dir() + "/key.pem", cert = c.dir() + "/cert.pem";
  auto gen = RunCommand({testing::FindProgram("openssl"), "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out",
                         cert, "-days", "1", "-subj", "/CN=localhost", "-addext",
                         "subjectAltName=DNS:localhost,IP:127.0.0.1"});
  ASSERT_EQ(gen.exit_code, 0) << gen.output;
  c.StartServer({"--tls-cert", cert, "--tls-key", key});
  const std::string server = "localhost:" + c.Addr().substr(c.Addr().rfind(':') + 1);
  auto ok = c.Cli({"list", "--server", server, "--ca", cert});
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  auto plain = c.Cli({"list", "--server", server, "--timeout", "5"});  // no TLS: cannot talk to it
  EXPECT_EQ(plain.exit_code, 69) << plain.output;
}

}  // namespace
}  // namespace landscape

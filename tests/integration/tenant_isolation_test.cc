// Tenants who do not trust each other, tested as an attacker with a token of
// their own would: a real redis-server, landscape-server with a tokens file
// (alice, bob), a landscape-worker and the CLI. Cross-tenant reads of
// artifacts (uploaded and job-made) are NOT_FOUND exactly like a missing
// artifact; local paths in a spec are refused unless the operator allows
// their root (symlinks and ".." resolved); limits refuse a job at submit
// (RESOURCE_EXHAUSTED naming the field and the flag); a wrong token is CLI exit 77; /metrics needs
// its token.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <regex>
#include <sstream>
#include <thread>

#include "landscape/redis/connection.h"
#include "landscape/redis/reply.h"
#include "landscape/v1/landscape.grpc.pb.h"
#include "process.h"

namespace landscape {
namespace {

using std::chrono::seconds;
using testing::Binary;
using testing::Process;
using testing::RunCommand;
using testing::WaitFor;

const std::string kCli = Binary("client/landscape");
const std::string kServer = Binary("server/landscape-server");
const std::string kWorker = Binary("worker/landscape-worker");
const std::string kAlice = "alice-token-1234";
const std::string kBob = "bob-token-5678";

int Count(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
  return n;
}

std::string Hex64(uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s;
  const char* digits = "0123456789abcdef";
  for (int i = 0; i < 64; ++i) s += digits[rng() % 16];
  return s;
}

// A Redis of its own, one server (restartable with other flags) and one worker.
class Cluster {
 public:
  Cluster() {
    dir_ = testing::MakeTempDir("landscape-tenants");
    redis_ = testing::RedisServer::Start();
    EXPECT_NE(redis_, nullptr);
    port_ = testing::FreePort();
    tokens_ = dir_ + "/tokens";
    std::ofstream(tokens_) << kAlice << " alice\n" << kBob << " bob\n";
  }
  ~Cluster() {
    worker_.reset();
    server_.reset();
    redis_.reset();
    if (::testing::Test::HasFailure()) {
      std::fprintf(stderr, "cluster logs kept in %s\n", dir_.c_str());
    } else {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }

  // (Re)starts the server with the tokens file and `extra` flags.
  void StartServer(std::vector<std::string> extra = {}) {
    if (server_) {
      server_->Signal(SIGTERM);
      ASSERT_GE(server_->Wait(seconds(30)), 0);
    }
    std::vector<std::string> argv{kServer, "--listen", Addr(), "--redis", redis_->url(), "--tokens", tokens_,
                                  "--drain", "1"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    server_ = Process::Start(argv, dir_ + "/server.log");
    ASSERT_TRUE(WaitFor([&] { return Count(server_->Log(), "listening on") > starts_; }, seconds(20)))
        << server_->Log();
    ++starts_;
  }
  void StartWorker() {
    worker_ = Process::Start({kWorker, "--redis", redis_->url(), "--threads", "1", "--name", "w1", "--cache",
                              Cache(), "--poll-ms", "200"},
                             dir_ + "/w1.log");
    EXPECT_TRUE(WaitFor([&] { return worker_->Log().find("worker started") != std::string::npos; }, seconds(30)))
        << worker_->Log();
  }

  std::string Addr() const { return "127.0.0.1:" + std::to_string(port_); }
  const std::string& dir() const { return dir_; }
  /// Replaces the tokens file (before StartServer).
  void SetTokens(const std::string& text) { std::ofstream(tokens_) << text; }
  std::string Cache() const { return dir_ + "/cache-w1"; }
  Process* worker() { return worker_.get(); }
  std::unique_ptr<v1::LandscapeService::Stub> Stub() const {
    return v1::LandscapeService::NewStub(grpc::CreateChannel(Addr(), grpc::InsecureChannelCredentials()));
  }
  testing::CommandResult Cli(std::vector<std::string> args, const std::vector<std::string>& env = {}) {
    std::vector<std::string> argv{kCli};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, std::chrono::minutes(5), env);
  }
  std::string RedisHGet(const std::string& key, const std::string& field) {
    auto opts = redis::ParseRedisUrl(redis_->url());
    auto c = redis::Connection::Connect(*opts);
    EXPECT_TRUE(c.ok()) << c.status();
    if (!c.ok()) return {};
    auto r = (*c)->Command({"HGET", key, field});
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() && !r->is_nil() ? std::string(r->str()) : std::string("<nil>");
  }

 private:
  std::string dir_, tokens_;
  std::unique_ptr<testing::RedisServer> redis_;
  int port_ = 0;
  int starts_ = 0;
  std::unique_ptr<Process> server_, worker_;
};

std::unique_ptr<grpc::ClientContext> Ctx(const std::string& token) {
  auto c = std::make_unique<grpc::ClientContext>();
  if (!token.empty()) c->AddMetadata("authorization", "Bearer " + token);
  c->set_deadline(std::chrono::system_clock::now() + seconds(30));
  return c;
}

// Uploads `bytes` as `token`; the sha256.
std::string Upload(v1::LandscapeService::Stub* stub, const std::string& token, const std::string& bytes) {
  auto ctx = Ctx(token);
  v1::Artifact out;
  auto writer = stub->UploadArtifact(ctx.get(), &out);
  v1::UploadArtifactRequest req;
  req.set_data(bytes);
  EXPECT_TRUE(writer->Write(req));
  writer->WritesDone();
  grpc::Status s = writer->Finish();
  EXPECT_TRUE(s.ok()) << s.error_message();
  return out.sha256();
}

struct Download {
  grpc::Status status;
  std::string bytes;
};
Download Get(v1::LandscapeService::Stub* stub, const std::string& token, const std::string& sha) {
  auto ctx = Ctx(token);
  v1::GetArtifactRequest req;
  req.set_sha256(sha);
  auto reader = stub->GetArtifact(ctx.get(), req);
  Download d;
  v1::ArtifactChunk chunk;
  while (reader->Read(&chunk)) d.bytes += chunk.data();
  d.status = reader->Finish();
  return d;
}

grpc::Status Submit(v1::LandscapeService::Stub* stub, const std::string& token, const v1::JobSpec& spec,
                    v1::Job* job = nullptr) {
  v1::SubmitJobRequest req;
  *req.mutable_spec() = spec;
  v1::Job ignored;
  auto ctx = Ctx(token);
  return stub->SubmitJob(ctx.get(), req, job != nullptr ? job : &ignored);
}

// A 3 x 2-point job on synthetic data that fit the model of MakeModel.
v1::JobSpec SmallSpec(const std::string& model_ref) {
  v1::JobSpec s;
  s.mutable_model()->set_model(model_ref);
  s.mutable_data()->set_source("synthetic:32:1x28x28");
  s.mutable_grid()->mutable_x()->set_min(-1);
  s.mutable_grid()->mutable_x()->set_max(1);
  s.mutable_grid()->mutable_x()->set_num(3);
  s.mutable_grid()->mutable_y()->set_min(-1);
  s.mutable_grid()->mutable_y()->set_max(1);
  s.mutable_grid()->mutable_y()->set_num(2);
  return s;
}

std::string MakeModel(Cluster& c, const std::string& name, int seed) {
  const std::string path = c.dir() + "/" + name;
  auto r = RunCommand({kCli, "export-arch", "--arch", "cnn", "--input", "1x28x28", "--seed", std::to_string(seed),
                       "--out", path});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return path;
}

// The message with every sha256 in it replaced: two refusals compare equal when only the hash differs.
std::string WithoutSha(const std::string& message) {
  return std::regex_replace(message, std::regex("[0-9a-f]{64}"), "<sha>");
}

void ExpectRefused(const grpc::Status& s, grpc::StatusCode code, const std::string& field, const std::string& rule,
                   const std::string& what) {
  EXPECT_EQ(s.error_code(), code) << what << ": " << s.error_message();
  EXPECT_NE(s.error_message().find(field), std::string::npos) << what << ": " << s.error_message();
  EXPECT_NE(s.error_message().find(rule), std::string::npos) << what << ": " << s.error_message();
}

// --- Artifacts belong to tenants -----------------------------------------------------------------

TEST(TenantIsolationTest, AnotherTenantsArtifactsAreNotFoundLikeMissingOnes) {
  Cluster c;
  c.StartServer();
  c.StartWorker();
  auto stub = c.Stub();
  const std::string model_bytes = testing::ReadFile(MakeModel(c, "alice.pt", 7));
  const std::string sha = Upload(stub.get(), kAlice, model_bytes);
  ASSERT_EQ(sha.size(), 64u);
  const std::string random_sha = Hex64(99);

  // bob's GetArtifact of alice's model: NOT_FOUND, word for word as a hash nobody uploaded.
  const Download missing = Get(stub.get(), kBob, random_sha);
  ASSERT_EQ(missing.status.error_code(), grpc::StatusCode::NOT_FOUND);
  const Download stolen = Get(stub.get(), kBob, sha);
  EXPECT_EQ(stolen.status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(WithoutSha(stolen.status.error_message()), WithoutSha(missing.status.error_message()));
  EXPECT_TRUE(stolen.bytes.empty());
  const Download own = Get(stub.get(), kAlice, sha);
  ASSERT_TRUE(own.status.ok()) << own.status.error_message();
  EXPECT_EQ(own.bytes, model_bytes);

  // bob's job on alice's artifact: NOT_FOUND, as on an unknown one.
  const grpc::Status bob_job = Submit(stub.get(), kBob, SmallSpec("artifact:" + sha));
  const grpc::Status unknown_job = Submit(stub.get(), kBob, SmallSpec("artifact:" + random_sha));
  EXPECT_EQ(bob_job.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(WithoutSha(bob_job.error_message()), WithoutSha(unknown_job.error_message()));
  EXPECT_NE(bob_job.error_message().find("model.model"), std::string::npos) << bob_job.error_message();
  // ... in every field that names a file (model2, checkpoints, direction file, tensor data).
  v1::JobSpec target = SmallSpec("artifact:" + random_sha);
  const std::string bobs = Upload(stub.get(), kBob, testing::ReadFile(MakeModel(c, "bob.pt", 8)));
  {
    target.mutable_model()->set_model("artifact:" + bobs);
    target.mutable_model()->set_model2("artifact:" + sha);
    target.mutable_directions()->set_kind(v1::DIRECTION_KIND_TARGET);
    ExpectRefused(Submit(stub.get(), kBob, target), grpc::StatusCode::NOT_FOUND, "model.model2", "unknown artifact",
                  "model2 of alice");
    v1::JobSpec pca = SmallSpec("artifact:" + bobs);
    pca.mutable_model()->add_checkpoints("artifact:" + bobs);
    pca.mutable_model()->add_checkpoints("artifact:" + sha);
    pca.mutable_directions()->set_kind(v1::DIRECTION_KIND_PCA);
    ExpectRefused(Submit(stub.get(), kBob, pca), grpc::StatusCode::NOT_FOUND, "model.checkpoints[1]",
                  "unknown artifact", "checkpoint of alice");
    v1::JobSpec data = SmallSpec("artifact:" + bobs);
    data.mutable_data()->set_source("artifact:" + sha);
    ExpectRefused(Submit(stub.get(), kBob, data), grpc::StatusCode::NOT_FOUND, "data.source", "unknown artifact",
                  "data of alice");
  }

  // alice's job makes a direction file: hers, not bob's.
  v1::Job job;
  ASSERT_TRUE(Submit(stub.get(), kAlice, SmallSpec("artifact:" + sha), &job).ok());
  v1::Job done;
  ASSERT_TRUE(WaitFor(
      [&] {
        v1::GetJobRequest req;
        req.set_name(job.name());
        auto ctx = Ctx(kAlice);
        return stub->GetJob(ctx.get(), req, &done).ok() && done.state() >= v1::JOB_STATE_SUCCEEDED;
      },
      seconds(120)))
      << c.worker()->Log();
  ASSERT_EQ(done.state(), v1::JOB_STATE_SUCCEEDED) << done.error();
  std::string dir_sha = done.direction_artifact();
  if (dir_sha.rfind("artifact:", 0) == 0) dir_sha = dir_sha.substr(9);
  ASSERT_EQ(dir_sha.size(), 64u) << done.direction_artifact();
  const Download dir_alice = Get(stub.get(), kAlice, dir_sha);
  ASSERT_TRUE(dir_alice.status.ok()) << dir_alice.status.error_message();
  EXPECT_EQ(dir_alice.bytes.substr(1, 3), "HDF");
  const Download dir_bob = Get(stub.get(), kBob, dir_sha);
  EXPECT_EQ(dir_bob.status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(WithoutSha(dir_bob.status.error_message()), WithoutSha(missing.status.error_message()));
  v1::JobSpec dir_job = SmallSpec("artifact:" + bobs);
  dir_job.mutable_directions()->set_kind(v1::DIRECTION_KIND_FILE);
  dir_job.mutable_directions()->set_file("artifact:" + dir_sha);
  ExpectRefused(Submit(stub.get(), kBob, dir_job), grpc::StatusCode::NOT_FOUND, "directions.file",
                "unknown artifact", "bob on alice's directions");

  // bob uploads the same bytes: the same address, now his too; alice keeps hers.
  EXPECT_EQ(Upload(stub.get(), kBob, model_bytes), sha);
  const Download bob_own = Get(stub.get(), kBob, sha);
  ASSERT_TRUE(bob_own.status.ok()) << bob_own.status.error_message();
  EXPECT_EQ(bob_own.bytes, model_bytes);
  EXPECT_TRUE(Submit(stub.get(), kBob, SmallSpec("artifact:" + sha)).ok());
  EXPECT_TRUE(Get(stub.get(), kAlice, sha).status.ok());
  EXPECT_EQ(Get(stub.get(), kBob, dir_sha).status.error_code(), grpc::StatusCode::NOT_FOUND);
  // Stored once, granted twice.
  EXPECT_EQ(c.RedisHGet("lls:artifact:" + sha, "t:alice"), "1");
  EXPECT_EQ(c.RedisHGet("lls:artifact:" + sha, "t:bob"), "1");
  EXPECT_EQ(c.RedisHGet("lls:artifact:" + dir_sha, "t:bob"), "<nil>");
  EXPECT_TRUE(c.worker()->Running());
}

// --- Paths are a privilege -----------------------------------------------------------------------

TEST(TenantIsolationTest, LocalPathsAreRefusedUnlessTheOperatorAllowsTheirRoot) {
  Cluster c;
  c.StartServer();
  c.StartWorker();
  auto stub = c.Stub();
  const std::string model = MakeModel(c, "m.pt", 3);
  const std::string sha = Upload(stub.get(), kAlice, testing::ReadFile(model));
  const std::string ref = "artifact:" + sha;
  // The uploaded model as the worker caches it: reachable by path on a worker, never by a spec.
  const std::string cached = c.Cache() + "/" + sha;

  struct Case {
    std::string field;
    std::function<void(v1::JobSpec*)> set;
  };
  auto with = [&](const std::string& path) {
    return std::vector<Case>{
        {"model.model", [=](v1::JobSpec* s) { s->mutable_model()->set_model("file://" + path); }},
        {"model.model", [=](v1::JobSpec* s) { s->mutable_model()->set_model(path); }},
        {"model.arch", [=](v1::JobSpec* s) { s->mutable_model()->set_arch("file://" + path); }},
        {"model.model2",
         [=](v1::JobSpec* s) {
           s->mutable_model()->set_model2("file://" + path);
           s->mutable_directions()->set_kind(v1::DIRECTION_KIND_TARGET);
         }},
        {"model.model3",
         [=](v1::JobSpec* s) {
           s->mutable_model()->set_model2(s->model().model());
           s->mutable_model()->set_model3("file://" + path);
           s->mutable_directions()->set_kind(v1::DIRECTION_KIND_TARGET);
         }},
        {"model.checkpoints[1]",
         [=](v1::JobSpec* s) {
           s->mutable_model()->add_checkpoints(s->model().model());
           s->mutable_model()->add_checkpoints("file://" + path);
           s->mutable_directions()->set_kind(v1::DIRECTION_KIND_PCA);
         }},
        {"directions.file",
         [=](v1::JobSpec* s) {
           s->mutable_directions()->set_kind(v1::DIRECTION_KIND_FILE);
           s->mutable_directions()->set_file("file://" + path);
         }},
        {"data.source", [=](v1::JobSpec* s) { s->mutable_data()->set_source("tensor:file://" + path); }},
        {"data.source", [=](v1::JobSpec* s) { s->mutable_data()->set_source("tensor:" + path); }},
        {"data.source", [=](v1::JobSpec* s) { s->mutable_data()->set_source("idx:" + path); }},
        {"data.source", [=](v1::JobSpec* s) { s->mutable_data()->set_source("cifar10:" + path); }},
    };
  };
  // No --allow-path-root: every path is refused, whatever it names.
  for (const std::string& path : {std::string("/etc/passwd"), cached, model, std::string("/etc"),
                                  std::string("/somewhere")}) {
    for (const Case& k : with(path)) {
      v1::JobSpec s = SmallSpec(ref);
      k.set(&s);
      ExpectRefused(Submit(stub.get(), kAlice, s), grpc::StatusCode::INVALID_ARGUMENT, k.field,
                    "paths are not allowed on this server", path + " in " + k.field);
    }
  }

  // The operator allows one directory: its files are accepted, everything else is refused, with
  // symlinks and ".." resolved and the directory compared by components.
  const std::string allowed = c.dir() + "/allowed";
  std::filesystem::create_directories(allowed + "/sub");
  std::filesystem::create_directories(c.dir() + "/allowed-evil");
  std::filesystem::copy_file(model, allowed + "/m.pt");
  std::filesystem::copy_file(model, c.dir() + "/allowed-evil/m.pt");
  std::filesystem::copy_file(model, c.dir() + "/secret.pt");
  std::filesystem::create_symlink(c.dir() + "/secret.pt", allowed + "/link.pt");
  std::filesystem::create_symlink("/etc", allowed + "/etc-link");
  std::filesystem::create_symlink(c.Cache(), allowed + "/cache-link");
  c.StartServer({"--allow-path-root", allowed, "--allow-path-root", c.dir() + "/unused"});
  for (const std::string& path :
       {std::string("/etc/passwd"), cached, allowed + "/cache-link/" + sha, c.dir() + "/secret.pt",
        allowed + "/../secret.pt", allowed + "/sub/../../secret.pt", allowed + "/link.pt",
        allowed + "/etc-link/passwd", c.dir() + "/allowed-evil/m.pt", std::string("/etc")}) {
    for (const Case& k : with(path)) {
      v1::JobSpec s = SmallSpec(ref);
      k.set(&s);
      ExpectRefused(Submit(stub.get(), kAlice, s), grpc::StatusCode::INVALID_ARGUMENT, k.field,
                    "outside the allowed roots", path + " in " + k.field);
    }
  }
  // Inside the root: accepted (the server checks the path, the worker opens it).
  for (const Case& k : with(allowed + "/m.pt")) {
    if (k.field == "data.source") continue;  // a model is not a data set: the paths below are
    v1::JobSpec s = SmallSpec(ref);
    k.set(&s);
    const grpc::Status st = Submit(stub.get(), kAlice, s);
    EXPECT_TRUE(st.ok()) << k.field << ": " << st.error_message();
  }
  for (const std::string& source : {"idx:" + allowed + "/sub", "cifar10:" + allowed + "/sub/../sub",
                                    "tensor:" + allowed + "/data.pt", "file://" + allowed + "/data.pt"}) {
    v1::JobSpec s = SmallSpec(ref);
    s.mutable_data()->set_source(source);
    const grpc::Status st = Submit(stub.get(), kAlice, s);
    EXPECT_TRUE(st.ok()) << source << ": " << st.error_message();
  }
  // FILE.pt data (a model is no data set, but the path is what is checked).
  for (const std::string& path : {c.dir() + "/secret.pt", allowed + "/link.pt", allowed + "/../secret.pt"}) {
    for (const std::string& source : {path, "file://" + path}) {
      v1::JobSpec s = SmallSpec(ref);
      s.mutable_data()->set_source(source);
      ExpectRefused(Submit(stub.get(), kAlice, s), grpc::StatusCode::INVALID_ARGUMENT, "data.source",
                    "outside the allowed roots", source);
    }
  }
  // A relative path is never a path the workers can read.
  v1::JobSpec rel = SmallSpec("allowed/m.pt");
  ExpectRefused(Submit(stub.get(), kAlice, rel), grpc::StatusCode::INVALID_ARGUMENT, "model.model", "upload the file",
                "relative");
}

// --- Bounded work --------------------------------------------------------------------------------

TEST(TenantIsolationTest, EveryLimitRefusesAJobAtSubmitNamingItsFlag) {
  Cluster c;
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

// GET /metrics with an optional Authorization header; the whole HTTP answer.
std::string Scrape(int port, const std::string& authorization) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    std::string req = "GET /metrics HTTP/1.0\r\nHost: localhost\r\n";
    if (!authorization.empty()) req += "Authorization: " + authorization + "\r\n";
    req += "\r\n";
    if (::write(fd, req.data(), req.size()) == static_cast<ssize_t>(req.size())) {
      char buf[4096];
      ssize_t n;
      while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
    }
  }
  ::close(fd);
  return out;
}

TEST(TenantIsolationTest, WrongTokensExit77AndMetricsNeedTheirToken) {
  Cluster c;
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
    const std::string refused = Scrape(metrics_port, auth);
    EXPECT_NE(refused.find(" 401 "), std::string::npos) << auth << ": " << refused;
    EXPECT_EQ(refused.find("landscape_"), std::string::npos) << auth << ": " << refused;
  }
  const std::string scraped = Scrape(metrics_port, "Bearer scrape-secret-42");
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
  Cluster c;
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
    auto ctx = Ctx(kBob);
    ASSERT_TRUE(stub->SubmitJob(ctx.get(), req, &bob_job).ok());
  }
  EXPECT_EQ(bob_job.priority(), 7);
  ExpectRefused(Submit(stub.get(), kBob, spec), grpc::StatusCode::RESOURCE_EXHAUSTED, "max_queued_points = 10",
                "bob", "bob's second job");
  req.set_priority(101);
  {
    auto ctx = Ctx(kBob);
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

  c.StartWorker();
  for (const std::string& id : {alice_id, bob_id}) {
    EXPECT_TRUE(WaitFor([&] { return c.RedisHGet("lls:job:" + id, "state") == "SUCCEEDED"; }, seconds(120)))
        << c.RedisHGet("lls:job:" + id, "error");
  }
  // Ended jobs give their share back: alice may submit again.
  EXPECT_TRUE(Submit(stub.get(), kAlice, spec).ok());

  const std::string scraped = Scrape(metrics_port, "");
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
  Cluster c;
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
  c.StartWorker();
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
    auto ctx = Ctx(kAlice);
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

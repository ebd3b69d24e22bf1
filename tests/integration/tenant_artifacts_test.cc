// Tenants who do not trust each other, tested as an attacker with a token of their own would: a real
// redis-server, landscape-server with a tokens file (alice, bob), a landscape-worker and the CLI.
// Cross-tenant reads of artifacts (uploaded and job-made) are NOT_FOUND exactly like a missing artifact;
// local paths in a spec are refused unless the operator allows their root (symlinks and ".." resolved).
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>

#include "tenant_test_support.h"

namespace landscape {
namespace {

using namespace tenant_test;  // the set-up the tenant_isolation_test files share
using std::chrono::seconds;
using testing::RpcContext;
using testing::WaitFor;

// --- Artifacts belong to tenants -----------------------------------------------------------------

TEST(TenantIsolationTest, AnotherTenantsArtifactsAreNotFoundLikeMissingOnes) {
  testing::Cluster c(TenantCluster());
  c.StartServer();
  testing::Process* worker = c.StartWorker("w1");
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
        auto ctx = RpcContext(kAlice);
        return stub->GetJob(ctx.get(), req, &done).ok() && done.state() >= v1::JOB_STATE_SUCCEEDED;
      },
      seconds(120)))
      << worker->Log();
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
  EXPECT_TRUE(worker->Running());
}

// --- Paths are a privilege -----------------------------------------------------------------------

TEST(TenantIsolationTest, LocalPathsAreRefusedUnlessTheOperatorAllowsTheirRoot) {
  testing::Cluster c(TenantCluster());
  c.StartServer();
  c.StartWorker("w1");
  auto stub = c.Stub();
  const std::string model = MakeModel(c, "m.pt", 3);
  const std::string sha = Upload(stub.get(), kAlice, testing::ReadFile(model));
  const std::string ref = "artifact:" + sha;
  // The uploaded model as the worker caches it: reachable by path on a worker, never by a spec.
  const std::string cached = c.CacheDir("w1") + "/" + sha;

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
  std::filesystem::create_symlink(c.CacheDir("w1"), allowed + "/cache-link");
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

}  // namespace
}  // namespace landscape

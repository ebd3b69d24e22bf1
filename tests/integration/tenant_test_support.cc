#include "tenant_test_support.h"

#include <gtest/gtest.h>

#include <random>
#include <regex>

namespace landscape::tenant_test {

const std::string kAlice = "alice-token-1234";
const std::string kBob = "bob-token-5678";

testing::ClusterOptions TenantCluster() {
  testing::ClusterOptions o;
  o.dir_prefix = "landscape-tenants";
  o.tokens = kAlice + " alice\n" + kBob + " bob\n";
  o.server_flags = {"--drain", "1"};
  o.worker_flags = {"--threads", "1", "--poll-ms", "200"};
  return o;
}

std::string Hex64(uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s;
  const char* digits = "0123456789abcdef";
  for (int i = 0; i < 64; ++i) s += digits[rng() % 16];
  return s;
}

std::string Upload(v1::LandscapeService::Stub* stub, const std::string& token, const std::string& bytes) {
  auto ctx = testing::RpcContext(token);
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

Download Get(v1::LandscapeService::Stub* stub, const std::string& token, const std::string& sha) {
  auto ctx = testing::RpcContext(token);
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
                    v1::Job* job) {
  v1::SubmitJobRequest req;
  *req.mutable_spec() = spec;
  v1::Job ignored;
  auto ctx = testing::RpcContext(token);
  return stub->SubmitJob(ctx.get(), req, job != nullptr ? job : &ignored);
}

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

std::string MakeModel(testing::Cluster& c, const std::string& name, int seed) {
  const std::string path = c.dir() + "/" + name;
  auto r = testing::RunCommand({testing::CliBinary(), "export-arch", "--arch", "cnn", "--input", "1x28x28", "--seed",
                                std::to_string(seed), "--out", path});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return path;
}

std::string WithoutSha(const std::string& message) {
  return std::regex_replace(message, std::regex("[0-9a-f]{64}"), "<sha>");
}

void ExpectRefused(const grpc::Status& s, grpc::StatusCode code, const std::string& field, const std::string& rule,
                   const std::string& what) {
  EXPECT_EQ(s.error_code(), code) << what << ": " << s.error_message();
  EXPECT_NE(s.error_message().find(field), std::string::npos) << what << ": " << s.error_message();
  EXPECT_NE(s.error_message().find(rule), std::string::npos) << what << ": " << s.error_message();
}

}  // namespace landscape::tenant_test

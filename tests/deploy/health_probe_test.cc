// landscape-health-probe against a real in-process gRPC server serving
// grpc.health.v1 (the answers set by each test): each answer maps to its
// documented exit status.
#include <sys/wait.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "grpc/health/v1/health.grpc.pb.h"

namespace {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

// grpc.health.v1 as the standard describes it: the status set for a service
// name, NOT_FOUND for a name never set.
class FakeHealth final : public grpc::health::v1::Health::Service {
 public:
  void Set(const std::string& service, bool serving) {
    std::lock_guard<std::mutex> lock(mu_);
    status_[service] = serving ? HealthCheckResponse::SERVING : HealthCheckResponse::NOT_SERVING;
  }
  grpc::Status Check(grpc::ServerContext*, const HealthCheckRequest* req, HealthCheckResponse* resp) override {
    std::lock_guard<std::mutex> lock(mu_);
    const auto it = status_.find(req->service());
    if (it == status_.end()) return grpc::Status(grpc::StatusCode::NOT_FOUND, "unknown service");
    resp->set_status(it->second);
    return grpc::Status::OK;
  }

 private:
  std::mutex mu_;
  std::map<std::string, HealthCheckResponse::ServingStatus> status_{{"", HealthCheckResponse::SERVING}};
};

// Runs the probe; returns its exit status (or -1 when it did not exit normally).
int Probe(const std::string& args) {
  const std::string cmd = std::string(LANDSCAPE_HEALTH_PROBE) + " " + args + " > /dev/null 2>&1";
  const int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

class HealthProbeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(&health_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(port_, 0);
    addr_ = "--addr 127.0.0.1:" + std::to_string(port_) + " --timeout 5";
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
  }
  FakeHealth health_;
  int port_ = 0;
  std::string addr_;
  std::unique_ptr<grpc::Server> server_;
};

TEST_F(HealthProbeTest, ServingServerExitsZero) { EXPECT_EQ(Probe(addr_), 0); }

TEST_F(HealthProbeTest, NotServingServerExitsOne) {
  health_.Set("", false);
  EXPECT_EQ(Probe(addr_), 1);
}

TEST_F(HealthProbeTest, NamedServiceFollowsItsOwnStatus) {
  health_.Set("landscape.v1.LandscapeService", false);
  EXPECT_EQ(Probe(addr_ + " --service landscape.v1.LandscapeService"), 1);
  health_.Set("landscape.v1.LandscapeService", true);
  EXPECT_EQ(Probe(addr_ + " --service landscape.v1.LandscapeService"), 0);
}

TEST_F(HealthProbeTest, UnknownServiceExitsOne) { EXPECT_EQ(Probe(addr_ + " --service no.such.Service"), 1); }

TEST_F(HealthProbeTest, NoServerExitsTwoWithinTheTimeout) {
  const std::string addr = "--addr 127.0.0.1:" + std::to_string(port_) + " --timeout 1";
  server_->Shutdown();
  server_.reset();
  EXPECT_EQ(Probe(addr), 2);
}

TEST(HealthProbeUsage, BadArgumentsExit64) {
  EXPECT_EQ(Probe("--bogus"), 64);
  EXPECT_EQ(Probe("--timeout -1"), 64);
  EXPECT_EQ(Probe("--addr"), 64);
  EXPECT_EQ(Probe("--addr nocolon"), 64);
  EXPECT_EQ(Probe("--help"), 0);
}

}  // namespace

// landscape-health-probe: asks a gRPC server whether it serves, through the
// standard health service (grpc.health.v1.Health/Check), over plaintext.
//
//   landscape-health-probe [--addr HOST:PORT] [--service NAME] [--timeout SECONDS]
//
// --service "" (the default) asks about the server as a whole; landscape-server
// also answers for "landscape.v1.LandscapeService", which is NOT_SERVING while
// Redis is unreachable.
//
// Exit status: 0 SERVING; 1 the server answered, but not SERVING (NOT_SERVING,
// UNKNOWN, or NOT_FOUND for a service it does not know); 2 no answer within the
// timeout (not listening, unreachable, not gRPC); 64 usage error.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <grpcpp/grpcpp.h>

#include "grpc/health/v1/health.grpc.pb.h"

namespace {

constexpr int kServing = 0;
constexpr int kNotServing = 1;
constexpr int kNoAnswer = 2;
constexpr int kUsage = 64;

struct Options {
  std::string addr = "127.0.0.1:50051";
  std::string service;
  double timeout_s = 3;
};

void PrintUsage(std::FILE* to) {
  std::fputs(
      "usage: landscape-health-probe [--addr HOST:PORT] [--service NAME] [--timeout SECONDS]\n"
      "  asks grpc.health.v1.Health/Check (plaintext); default --addr 127.0.0.1:50051, --timeout 3\n"
      "  exit 0 SERVING, 1 answered but not SERVING, 2 no answer, 64 usage\n",
      to);
}

// Returns -1 when parsing succeeded, else the exit status to use.
int Parse(int argc, char** argv, Options* o) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      PrintUsage(stdout);
      return 0;
    }
    const auto eq = a.find('=');
    const std::string name = a.substr(0, eq);
    std::string value;
    if (eq != std::string::npos) {
      value = a.substr(eq + 1);
    } else if (name == "--addr" || name == "--service" || name == "--timeout") {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "landscape-health-probe: %s needs a value\n", name.c_str());
        return kUsage;
      }
      value = argv[++i];
    }
    if (name == "--addr") {
      o->addr = value;
    } else if (name == "--service") {
      o->service = value;
    } else if (name == "--timeout") {
      char* end = nullptr;
      o->timeout_s = std::strtod(value.c_str(), &end);
      if (end == value.c_str() || *end != '\0' || !(o->timeout_s > 0)) {
        std::fprintf(stderr, "landscape-health-probe: --timeout needs a positive number of seconds\n");
        return kUsage;
      }
    } else {
      std::fprintf(stderr, "landscape-health-probe: unknown argument %s\n", a.c_str());
      PrintUsage(stderr);
      return kUsage;
    }
  }
  if (o->addr.empty() || o->addr.find(':') == std::string::npos) {
    std::fprintf(stderr, "landscape-health-probe: --addr needs HOST:PORT\n");
    return kUsage;
  }
  return -1;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (const int rc = Parse(argc, argv, &o); rc >= 0) return rc;

  const auto deadline =
      std::chrono::system_clock::now() + std::chrono::milliseconds(static_cast<long long>(o.timeout_s * 1000));
  auto channel = grpc::CreateChannel(o.addr, grpc::InsecureChannelCredentials());
  auto stub = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(deadline);
  ctx.set_wait_for_ready(true);  // wait (until the deadline) for a server that is starting
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(o.service);
  grpc::health::v1::HealthCheckResponse response;
  const grpc::Status status = stub->Check(&ctx, request, &response);

  const std::string what = o.service.empty() ? o.addr : o.addr + " " + o.service;
  if (status.ok()) {
    const auto& name = grpc::health::v1::HealthCheckResponse::ServingStatus_Name(response.status());
    if (response.status() == grpc::health::v1::HealthCheckResponse::SERVING) {
      std::printf("%s: SERVING\n", what.c_str());
      return kServing;
    }
    std::printf("%s: %s\n", what.c_str(), name.c_str());
    return kNotServing;
  }
  if (status.error_code() == grpc::StatusCode::NOT_FOUND) {
    std::printf("%s: unknown service (NOT_FOUND)\n", what.c_str());
    return kNotServing;
  }
  std::printf("%s: no answer: %s (%s)\n", what.c_str(), status.error_message().c_str(),
              status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED ? "DEADLINE_EXCEEDED" : "error");
  return kNoAnswer;
}

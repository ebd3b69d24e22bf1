// landscape-server assembled: Redis pool, job service, event hub, executor,
// gRPC server (with health, reflection, auth and optional TLS) and metrics.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <grpcpp/server.h>

#include "auth.h"
#include "event_hub.h"
#include "executor.h"
#include "grpc_service.h"
#include "http_api.h"
#include "job_service.h"
#include "metrics.h"

namespace landscape::server {

struct ServerOptions {
  std::string listen = "127.0.0.1:50051";  // HOST:PORT; port 0 picks a free one
  std::string redis;                       // redis://HOST:PORT[/DB]
  std::string prefix = "lls:";             // of every Redis key
  std::string tokens_file;                 // "": no authentication (tenant "default")
  std::string metrics_listen;              // "": no /metrics
  std::string metrics_token;               // a file holding the token, or the token: /metrics needs Bearer
  std::string tls_cert, tls_key;           // PEM files: serve TLS (both or neither)
  HttpOptions http;                        // http.listen "": no HTTP API and web UI
  ServiceOptions service;
  size_t executor_threads = 8;
  size_t redis_connections = 16;
  std::chrono::milliseconds drain{10000};  // in-flight calls get this long on shutdown
};

class Server {
 public:
  static core::Result<std::unique_ptr<Server>> Start(const ServerOptions& opts);
  ~Server();

  int port() const { return port_; }
  int http_port() const { return http_ ? http_->port() : 0; }
  /// Health NOT_SERVING, watchers told to reconnect, in-flight calls drained
  /// until the deadline, then stopped. Idempotent.
  void Shutdown();

 private:
  Server() = default;
  void ReadinessLoop();

  ServerOptions opts_;
  std::shared_ptr<redis::ConnectionPool> pool_;
  TokenAuth auth_ = TokenAuth::Open();
  std::unique_ptr<JobService> service_;
  std::unique_ptr<Executor> executor_;
  std::unique_ptr<EventHub> hub_;
  std::unique_ptr<Metrics> metrics_;
  std::unique_ptr<LandscapeServiceImpl> grpc_service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<HttpApi> http_;
  int port_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread readiness_;
};

}  // namespace landscape::server

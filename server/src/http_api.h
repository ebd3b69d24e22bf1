// landscape-server's HTTP side (--http HOST:PORT): the JSON API /api/v1/...
// over the same JobService, TokenAuth and error mapping as gRPC, Server-Sent
// Events of a job's event stream, and the web UI embedded at build time.
//
// Library: cpp-httplib (Debian libcpp-httplib-dev, header only). It serves each
// connection on a thread of a fixed pool (HttpOptions::threads); an SSE watcher
// holds one thread, parked on a condition variable (no CPU while idle, a few
// tens of KiB resident each; bench/http_bench.py measures it). Connections past
// the pool wait in its queue, so the pool is sized for the watchers expected
// (default 256) and SSE streams end after max_stream (browsers reconnect with
// Last-Event-ID). Shutdown stops accepting, ends every stream (clients resume
// with their cursor) and joins the pool once in-flight requests are answered.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "auth.h"
#include "event_hub.h"
#include "job_service.h"
#include "landscape/redis/schema.h"

namespace httplib {
class Server;
}

namespace landscape::server {

struct HttpOptions {
  std::string listen;                       // HOST:PORT; port 0 picks a free one
  std::vector<std::string> cors_origins;    // Origins allowed cross-origin calls ("*": any); none = no CORS
  size_t threads = 256;                     // connection threads (each SSE watcher holds one)
  std::chrono::seconds keepalive{15};       // SSE comment line this often (finds closed clients)
  std::chrono::seconds max_stream{600};     // an SSE stream ends after this; the client resumes
  size_t max_body_bytes = 64 << 10;         // request bodies (the API takes none larger)
};

class HttpApi {
 public:
  /// Binds and serves on a thread of its own. `service`, `hub` and `auth` outlive the HttpApi.
  static core::Result<std::unique_ptr<HttpApi>> Start(const HttpOptions& opts, JobService* service, EventHub* hub,
                                                      const TokenAuth* auth, redis::Schema schema);
  ~HttpApi();
  int port() const { return port_; }
  /// Not ready (/readyz 503), every SSE stream ended, no new connections, joined. Idempotent.
  void Shutdown();
  /// Whether Redis answers (the server's readiness loop, every 2 s): /readyz is 200 only
  /// while it does and the server is not stopping; /healthz (alive) does not depend on it.
  void SetRedisReachable(bool reachable);

  struct Impl;

 private:
  HttpApi() = default;
  std::unique_ptr<Impl> impl_;
  std::unique_ptr<httplib::Server> http_;
  std::thread thread_;
  int port_ = 0;
  std::atomic<bool> stopped_{false};
};

}  // namespace landscape::server

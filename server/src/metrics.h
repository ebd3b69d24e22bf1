// Prometheus metrics on /metrics (prometheus-cpp): the cluster-wide numbers
// kept in Redis (jobs by state, tiles queued and done, tile latency, queue
// length and lag — every server reports the same values), and this server's
// RPC counts. With a token, /metrics answers 401 to any request without
// "Authorization: Bearer <token>" (compared in constant time).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>

#include "landscape/core/status.h"
#include "landscape/redis/job_store.h"

namespace landscape::server {

class Metrics {
 public:
  /// Serves http://`listen`/metrics; kInvalidArgument when it cannot bind. `token` "": no authentication.
  static core::Result<std::unique_ptr<Metrics>> Start(const std::string& listen, redis::JobStore* store,
                                                      const std::string& token = {});
  ~Metrics();

  /// Counts one finished RPC.
  void CountRpc(const std::string& method, const std::string& code);

 private:
  Metrics() = default;
  std::vector<int> ports_;  // registered for token checks
  std::unique_ptr<prometheus::Exposer> exposer_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::shared_ptr<prometheus::Collectable> redis_collector_;
  prometheus::Family<prometheus::Counter>* rpcs_ = nullptr;
};

}  // namespace landscape::server

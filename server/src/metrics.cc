#include "metrics.h"

#include <CivetServer.h>
#include <civetweb.h>
#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <cstring>
#include <exception>
#include <limits>
#include <map>
#include <mutex>

#include "auth.h"

#include "landscape/core/job.h"
#include "landscape/redis/schema.h"

namespace landscape::server {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

MetricFamily Family(const char* name, const char* help, MetricType type) {
  MetricFamily f;
  f.name = name;
  f.help = help;
  f.type = type;
  return f;
}

void AddValue(MetricFamily* f, double v, std::vector<ClientMetric::Label> labels = {}) {
  ClientMetric m;
  m.label = std::move(labels);
  if (f->type == MetricType::Counter) {
    m.counter.value = v;
  } else {
    m.gauge.value = v;
  }
  f->metric.push_back(std::move(m));
}

// The per-tenant counters of {p}stats ("tenant:{t}:{what}" fields: schema.h) as metric families labelled by
// tenant (and device): queue wait histogram, tiles and compute seconds, dead letters, and tiles in flight.
void AddTenantFamilies(const redis::StoreStats& stats, std::vector<MetricFamily>* out) {
  struct PerTenant {
    std::map<std::string, double> fields;  // what -> value
  };
  std::map<std::string, PerTenant> tenants;
  for (const auto& [k, v] : stats.counters) {
    if (k.rfind("tenant:", 0) != 0) continue;
    const auto colon = k.find(':', 7);
    if (colon == std::string::npos) continue;
    tenants[k.substr(7, colon - 7)].fields[k.substr(colon + 1)] = static_cast<double>(v);
  }
  for (const auto& [t, n] : stats.inflight) tenants[t];
  auto tiles = Family("landscape_tenant_tiles_total", "Tiles computed and stored, by tenant and device kind",
                      MetricType::Counter);
  auto compute = Family("landscape_tenant_compute_seconds_total",
                        "Worker seconds spent computing tiles, by tenant and device kind", MetricType::Counter);
  auto dead = Family("landscape_tenant_dead_letters_total", "Tasks dead-lettered, by tenant", MetricType::Counter);
  auto inflight = Family("landscape_tenant_tiles_in_flight", "Tiles being computed now, by tenant",
                         MetricType::Gauge);
  auto wait = Family("landscape_tenant_queue_wait_seconds",
                     "A job's wait from submit to its first task taken by a worker, by tenant", MetricType::Histogram);
  for (const auto& [tenant, pt] : tenants) {
    const auto get = [&](const std::string& what) {
      auto it = pt.fields.find(what);
      return it == pt.fields.end() ? 0.0 : it->second;
    };
    for (const auto& [what, v] : pt.fields) {
      if (what.rfind("tiles:", 0) == 0) AddValue(&tiles, v, {{"tenant", tenant}, {"device", what.substr(6)}});
      if (what.rfind("compute_ms:", 0) == 0) {
        AddValue(&compute, v / 1000.0, {{"tenant", tenant}, {"device", what.substr(11)}});
      }
    }
    AddValue(&dead, get("dead_letters"), {{"tenant", tenant}});
    auto it = stats.inflight.find(tenant);
    AddValue(&inflight, it == stats.inflight.end() ? 0.0 : static_cast<double>(it->second), {{"tenant", tenant}});
    ClientMetric h;
    h.label = {{"tenant", tenant}};
    uint64_t cumulative = 0;
    int i = 0;
    for (double bound : redis::kQueueWaitBuckets) {
      cumulative += static_cast<uint64_t>(get("wait_bucket:" + std::to_string(i++)));
      h.histogram.bucket.push_back({cumulative, bound});
    }
    cumulative += static_cast<uint64_t>(get("wait_bucket:inf"));
    h.histogram.bucket.push_back({cumulative, std::numeric_limits<double>::infinity()});
    h.histogram.sample_count = cumulative;
    h.histogram.sample_sum = get("wait_ms_sum") / 1000.0;
    wait.metric.push_back(std::move(h));
  }
  for (auto* f : {&tiles, &compute, &dead, &inflight, &wait}) out->push_back(std::move(*f));
}

// Reads the numbers from Redis at every scrape.
class RedisCollector final : public prometheus::Collectable {
 public:
  explicit RedisCollector(redis::JobStore* store) : store_(store) {}

  std::vector<MetricFamily> Collect() const override {
    std::vector<MetricFamily> out;
    auto up = Family("landscape_redis_up", "1 when the server could read its numbers from Redis", MetricType::Gauge);
    auto stats = store_->Stats();
    AddValue(&up, stats.ok() ? 1 : 0);
    out.push_back(std::move(up));
    if (!stats.ok()) return out;
    auto counter = [&](const std::string& k) {
      auto it = stats->counters.find(k);
      return it == stats->counters.end() ? 0.0 : static_cast<double>(it->second);
    };

    auto jobs = Family("landscape_jobs", "Jobs not yet ended, by state (cluster-wide)", MetricType::Gauge);
    auto ended = Family("landscape_jobs_ended_total", "Jobs that ended, by final state (cluster-wide)",
                        MetricType::Counter);
    for (auto s : {core::JobState::kQueued, core::JobState::kPreparing, core::JobState::kRunning}) {
      AddValue(&jobs, counter(std::string("jobs:") + core::Name(s)), {{"state", core::Name(s)}});
    }
    for (auto s : {core::JobState::kSucceeded, core::JobState::kFailed, core::JobState::kCancelled}) {
      AddValue(&ended, counter(std::string("jobs:") + core::Name(s)), {{"state", core::Name(s)}});
    }
    out.push_back(std::move(jobs));
    out.push_back(std::move(ended));

    auto queued = Family("landscape_tiles_queued_total", "Tiles ever queued (cluster-wide)", MetricType::Counter);
    AddValue(&queued, counter("tiles_queued"));
    out.push_back(std::move(queued));
    auto done = Family("landscape_tiles_done_total", "Tiles computed and stored (cluster-wide)", MetricType::Counter);
    AddValue(&done, counter("tiles_done"));
    out.push_back(std::move(done));

    auto latency = Family("landscape_tile_seconds", "Compute time of a tile on a worker", MetricType::Histogram);
    ClientMetric h;
    uint64_t cumulative = 0;
    int i = 0;
    for (double bound : redis::kTileLatencyBuckets) {
      cumulative += static_cast<uint64_t>(counter("tile_bucket:" + std::to_string(i++)));
      h.histogram.bucket.push_back({cumulative, bound});
    }
    cumulative += static_cast<uint64_t>(counter("tile_bucket:inf"));
    h.histogram.bucket.push_back({cumulative, std::numeric_limits<double>::infinity()});
    h.histogram.sample_count = cumulative;
    h.histogram.sample_sum = counter("tile_ms_sum") / 1000.0;
    latency.metric.push_back(std::move(h));
    out.push_back(std::move(latency));

    auto gauge = [&](const char* name, const char* help, double v) {
      auto f = Family(name, help, MetricType::Gauge);
      AddValue(&f, v);
      out.push_back(std::move(f));
    };
    gauge("landscape_queue_length", "Tasks not yet acknowledged (waiting or running)",
          static_cast<double>(stats->queue_length));
    gauge("landscape_queue_pending", "Tasks delivered to a worker and not yet acknowledged",
          static_cast<double>(stats->pending));
    gauge("landscape_queue_lag", "Tasks never delivered to a worker yet", static_cast<double>(stats->lag));
    gauge("landscape_queue_oldest_seconds", "Age of the oldest unacknowledged task", stats->oldest_age_s);
    gauge("landscape_queue_consumers", "Workers known to the consumer group", static_cast<double>(stats->consumers));
    gauge("landscape_dead_letters", "Tasks in the dead-letter stream", static_cast<double>(stats->dead_letters));
    AddTenantFamilies(*stats, &out);
    return out;
  }

 private:
  redis::JobStore* store_;
};

// The token digests of the metrics servers that need one, by listening port. civetweb's
// begin_request callback carries no pointer of ours, and prometheus-cpp's own RegisterAuth is
// HTTP Basic only: the callback finds the digest by the port the request came to. A port not
// (or no longer) listed is refused: nothing is served before its token is known.
std::mutex g_tokens_mu;
std::map<int, std::string> g_token_digests;

int CheckBearer(mg_connection* conn) {
  const mg_request_info* info = mg_get_request_info(conn);
  std::string expected;
  {
    std::lock_guard<std::mutex> lock(g_tokens_mu);
    auto it = g_token_digests.find(info->server_port);
    if (it != g_token_digests.end()) expected = it->second;
  }
  const char* header = mg_get_header(conn, "Authorization");
  const char* prefix = "Bearer ";
  bool ok = false;
  if (!expected.empty() && header != nullptr && std::strncmp(header, prefix, std::strlen(prefix)) == 0) {
    ok = ConstantTimeEquals(SecretDigest(header + std::strlen(prefix)), expected);
  }
  if (ok) return 0;  // civetweb goes on to the /metrics handler
  mg_printf(conn,
            "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer\r\nContent-Type: text/plain\r\n"
            "Content-Length: 45\r\nConnection: close\r\n\r\nmetrics need 'Authorization: Bearer <token>'\n");
  return 401;  // handled: the status code for civetweb's log
}

}  // namespace

core::Result<std::unique_ptr<Metrics>> Metrics::Start(const std::string& listen, redis::JobStore* store,
                                                      const std::string& token) {
  std::unique_ptr<Metrics> m(new Metrics());
  static CivetCallbacks bearer_callbacks = [] {
    CivetCallbacks c;
    c.begin_request = &CheckBearer;
    return c;
  }();
  try {
    m->exposer_ = std::make_unique<prometheus::Exposer>(listen, 2, token.empty() ? nullptr : &bearer_callbacks);
  } catch (const std::exception& e) {
    return core::InvalidArgument("--metrics", "cannot serve metrics on " + listen + ": " + e.what());
  }
  if (!token.empty()) {
    std::lock_guard<std::mutex> lock(g_tokens_mu);
    for (int port : m->exposer_->GetListeningPorts()) {
      g_token_digests[port] = SecretDigest(token);
      m->ports_.push_back(port);
    }
  }
  m->registry_ = std::make_shared<prometheus::Registry>();
  m->rpcs_ = &prometheus::BuildCounter()
                  .Name("landscape_rpcs_total")
                  .Help("RPCs this server finished, by method and status code")
                  .Register(*m->registry_);
  m->redis_collector_ = std::make_shared<RedisCollector>(store);
  m->exposer_->RegisterCollectable(m->registry_);
  m->exposer_->RegisterCollectable(m->redis_collector_);
  return m;
}

Metrics::~Metrics() {
  exposer_.reset();  // no request is served after this
  std::lock_guard<std::mutex> lock(g_tokens_mu);
  for (int port : ports_) g_token_digests.erase(port);
}

void Metrics::CountRpc(const std::string& method, const std::string& code) {
  rpcs_->Add({{"method", method}, {"code", code}}).Increment();
}

}  // namespace landscape::server

#include "server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>
#include <spdlog/spdlog.h>

#include <fstream>
#include <sstream>

namespace landscape::server {

namespace {

const char* kServiceName = "landscape.v1.LandscapeService";

core::Result<std::string> ReadPem(const std::string& path, const char* flag) {
  std::ifstream in(path);
  if (!in) return core::InvalidArgument(flag, "cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

core::Result<std::unique_ptr<Server>> Server::Start(const ServerOptions& opts) {
  std::unique_ptr<Server> s(new Server());
  s->opts_ = opts;
  LS_ASSIGN_OR_RETURN(redis::RedisOptions redis_opts, redis::ParseRedisUrl(opts.redis));
  if (!opts.tokens_file.empty()) {
    LS_ASSIGN_OR_RETURN(s->auth_, TokenAuth::FromFile(opts.tokens_file));
  }
  if (opts.tls_cert.empty() != opts.tls_key.empty()) {
    return core::InvalidArgument("--tls-cert", "TLS needs both --tls-cert and --tls-key");
  }
  if (!opts.metrics_token.empty() && opts.metrics_listen.empty()) {
    return core::InvalidArgument("--metrics-token", "--metrics-token needs --metrics");
  }
  const redis::Schema schema(opts.prefix);
  s->pool_ = redis::ConnectionPool::Create(redis_opts, opts.redis_connections);
  ServiceOptions service = opts.service;
  for (const auto& [tenant, policy] : s->auth_.policies()) {
    redis::SubmitSchedule& t = service.tenants[tenant];
    t = service.tenant_defaults;
    if (policy.weight) t.weight = *policy.weight;
    if (policy.max_jobs) t.max_jobs = *policy.max_jobs;
    if (policy.max_queued_points) t.max_queued_points = *policy.max_queued_points;
    if (policy.max_tiles_in_flight) t.max_tiles_in_flight = *policy.max_tiles_in_flight;
  }
  s->service_ = std::make_unique<JobService>(s->pool_, schema, service);
  s->executor_ = std::make_unique<Executor>(opts.executor_threads);
  s->hub_ = std::make_unique<EventHub>(redis_opts);
  if (!opts.metrics_listen.empty()) {
    std::string token;
    if (!opts.metrics_token.empty()) {
      LS_ASSIGN_OR_RETURN(token, ReadSecret(opts.metrics_token, "--metrics-token"));
    }
    LS_ASSIGN_OR_RETURN(s->metrics_, Metrics::Start(opts.metrics_listen, &s->service_->store(), token));
  }
  ServiceDeps deps;
  deps.service = s->service_.get();
  deps.hub = s->hub_.get();
  deps.executor = s->executor_.get();
  deps.auth = &s->auth_;
  deps.metrics = s->metrics_.get();
  deps.schema = schema;
  s->grpc_service_ = std::make_unique<LandscapeServiceImpl>(deps);

  std::shared_ptr<grpc::ServerCredentials> creds = grpc::InsecureServerCredentials();
  if (!opts.tls_cert.empty()) {
    grpc::SslServerCredentialsOptions ssl;
    LS_ASSIGN_OR_RETURN(std::string cert, ReadPem(opts.tls_cert, "--tls-cert"));
    LS_ASSIGN_OR_RETURN(std::string key, ReadPem(opts.tls_key, "--tls-key"));
    ssl.pem_key_cert_pairs.push_back({key, cert});
    creds = grpc::SslServerCredentials(ssl);
  }
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(opts.listen, creds, &s->port_);
  builder.RegisterService(s->grpc_service_.get());
  // Uploads send pieces of up to 4 MiB plus framing.
  builder.SetMaxReceiveMessageSize(static_cast<int>(deps.max_upload_message + (64 << 10)));
  s->server_ = builder.BuildAndStart();
  if (!s->server_ || s->port_ == 0) {
    return core::Status(core::StatusCode::kUnavailable, "cannot listen on " + opts.listen + " (in use, or a bad address)",
                        "--listen");
  }
  if (!opts.http.listen.empty()) {
    LS_ASSIGN_OR_RETURN(s->http_, HttpApi::Start(opts.http, s->service_.get(), s->hub_.get(), &s->auth_, schema));
  }
  s->server_->GetHealthCheckService()->SetServingStatus(true);
  s->server_->GetHealthCheckService()->SetServingStatus(kServiceName, true);  // the readiness loop keeps it current
  s->readiness_ = std::thread([srv = s.get()] { srv->ReadinessLoop(); });
  return s;
}

// The named service is SERVING while Redis answers; the overall status stays
// SERVING until shutdown (the process itself is alive).
void Server::ReadinessLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  bool last = true;
  while (!stopping_) {
    lock.unlock();
    bool ok = false;
    if (auto c = pool_->Acquire(); c.ok()) ok = (*c)->Command({"PING"}).ok();
    lock.lock();
    if (stopping_) break;
    if (ok != last) {
      if (ok) {
        spdlog::info("redis reachable again");
      } else {
        spdlog::warn("redis unreachable: {} reports NOT_SERVING", kServiceName);
      }
    }
    server_->GetHealthCheckService()->SetServingStatus(kServiceName, ok);
    if (http_) http_->SetRedisReachable(ok);
    last = ok;
    cv_.wait_for(lock, std::chrono::seconds(2), [&] { return stopping_; });
  }
}

void Server::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  if (!server_) return;  // Start() failed before serving: nothing to drain
  cv_.notify_all();
  if (readiness_.joinable()) readiness_.join();
  spdlog::info("shutting down: health NOT_SERVING, draining for up to {} ms", opts_.drain.count());
  server_->GetHealthCheckService()->SetServingStatus(false);
  hub_->Shutdown();  // watchers end with UNAVAILABLE and reconnect elsewhere with their cursor
  if (http_) http_->Shutdown();  // SSE streams ended by the hub; answers in flight finish, then joined
  server_->Shutdown(std::chrono::system_clock::now() + opts_.drain);
  server_->Wait();
  executor_.reset();  // runs what is left, joins
  spdlog::info("stopped");
}

Server::~Server() { Shutdown(); }

}  // namespace landscape::server

// landscape-server: the gRPC API. SIGTERM/SIGINT: health NOT_SERVING, drain, exit 0.
#include <csignal>
#include <cstdio>
#include <cstdlib>

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "server.h"

using namespace landscape;

int main(int argc, char** argv) {
  server::ServerOptions o;
  if (const char* env = std::getenv("LANDSCAPE_REDIS")) o.redis = env;
  double retention_s = static_cast<double>(o.service.retention.count());
  double artifact_ttl_s = static_cast<double>(o.service.artifacts.ttl.count());
  double drain_s = static_cast<double>(o.drain.count()) / 1000.0;
  std::string log_level = "info";

  CLI::App app{"landscape-server: the loss-landscape gRPC API (landscape.v1)"};
  app.set_version_flag("--version", std::string("landscape-server ") + LANDSCAPE_VERSION);
  app.add_option("--listen", o.listen, "HOST:PORT to serve gRPC on (port 0: any free port)")->capture_default_str();
  app.add_option("--redis", o.redis, "redis://HOST:PORT[/DB] (default: $LANDSCAPE_REDIS)");
  app.add_option("--tokens", o.tokens_file,
                 "tokens file: 'TOKEN TENANT [weight=W] [max_jobs=N] [max_queued_points=N] [max_tiles_in_flight=N]' "
                 "per line (default: no authentication)");
  app.add_option("--metrics", o.metrics_listen, "HOST:PORT to serve Prometheus /metrics on");
  app.add_option("--metrics-token", o.metrics_token,
                 "a file holding a token (or the token itself): /metrics answers 401 without "
                 "'Authorization: Bearer <token>'");
  app.add_option("--http", o.http.listen,
                 "HOST:PORT to serve the JSON API (/api/v1), Server-Sent Events and the web UI on (default: off)");
  app.add_option("--http-cors-origin", o.http.cors_origins,
                 "an Origin allowed cross-origin API calls ('*': any); repeatable (default: none)");
  app.add_option("--http-threads", o.http.threads, "HTTP connection threads (each SSE watcher holds one)")
      ->capture_default_str()->check(CLI::Range(2, 4096));
  app.add_option("--tls-cert", o.tls_cert, "PEM certificate chain: serve TLS");
  app.add_option("--tls-key", o.tls_key, "PEM private key of --tls-cert");
  app.add_option("--prefix", o.prefix, "prefix of every Redis key (as the workers')")->capture_default_str();
  app.add_option("--retention", retention_s, "seconds a job's keys are kept after it ends")->capture_default_str();
  app.add_option("--artifact-ttl", artifact_ttl_s, "seconds an artifact is kept after its last use")
      ->capture_default_str();
  app.add_option("--max-artifact-bytes", o.service.artifacts.max_bytes, "largest upload")->capture_default_str();
  app.add_option("--max-points", o.service.limits.max_points, "largest grid (points per job)")->capture_default_str();
  app.add_option("--max-tiles", o.service.max_tiles, "most tiles per job")->capture_default_str();
  app.add_option("--max-batch-size", o.service.limits.max_batch_size, "largest evaluation batch")
      ->capture_default_str();
  app.add_option("--allow-path-root", o.service.paths.allowed_roots,
                 "a directory whose files (file://, idx:, cifar10:, tensor paths) specs may name; repeatable "
                 "(default: none, every local path is refused)");
  auto& jl = o.service.job_limits;
  app.add_option("--max-samples", jl.max_samples, "most samples a job evaluates per split")
      ->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--max-checkpoints", jl.max_checkpoints, "most checkpoints of a PCA job")
      ->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--max-checkpoint-bytes", jl.max_checkpoint_bytes, "most bytes of a job's checkpoints together")
      ->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--max-hessian-iterations", jl.max_hessian_iterations, "most Lanczos iterations per point")
      ->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--max-hessian-samples", jl.max_hessian_samples, "most samples of a Hessian estimate")
      ->capture_default_str()->check(CLI::PositiveNumber);
  auto& td = o.service.tenant_defaults;
  app.add_option("--tenant-max-jobs", td.max_jobs,
                 "a tenant's most active jobs, unless the tokens file says otherwise (0: no quota)")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  app.add_option("--tenant-max-queued-points", td.max_queued_points,
                 "a tenant's most points queued in active jobs (0: no quota)")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  app.add_option("--tenant-max-tiles-in-flight", td.max_tiles_in_flight,
                 "a tenant's most tiles computed at once; more wait (0: no quota)")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  app.add_option("--threads", o.executor_threads, "threads for the Redis work behind RPCs")->capture_default_str();
  app.add_option("--drain", drain_s, "seconds in-flight calls get on shutdown")->capture_default_str();
  app.add_option("--log-level", log_level, "trace | debug | info | warn | error")->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;  // --help: 0; a bad flag or value: 2 (usage), as the CLI
  }

  auto log = spdlog::stdout_logger_mt("server");
  spdlog::set_default_logger(log);
  spdlog::set_level(spdlog::level::from_str(log_level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %l [%n] %v");
  spdlog::flush_on(spdlog::level::info);

  if (o.redis.empty()) {
    std::fprintf(stderr, "landscape-server: --redis (or LANDSCAPE_REDIS) is required\n");
    return 2;
  }
  if (retention_s < 1 || artifact_ttl_s < 1 || drain_s < 0) {
    std::fprintf(stderr, "landscape-server: --retention and --artifact-ttl must be >= 1 s, --drain >= 0\n");
    return 2;
  }
  o.service.retention = std::chrono::seconds(static_cast<int64_t>(retention_s));
  o.service.artifacts.ttl = std::chrono::seconds(static_cast<int64_t>(artifact_ttl_s));
  o.drain = std::chrono::milliseconds(static_cast<int64_t>(drain_s * 1000));

  // Signals are taken by sigwait below, never by a handler: block them before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto srv = server::Server::Start(o);
  if (!srv.ok()) {
    std::fprintf(stderr, "landscape-server: %s\n", srv.status().ToString().c_str());
    return 2;
  }
  const std::string host = o.listen.substr(0, o.listen.rfind(':'));
  if ((*srv)->http_port() > 0) log->info("http on {}:{}", o.http.listen.substr(0, o.http.listen.rfind(':')), (*srv)->http_port());
  log->info("listening on {}:{} redis={} prefix={} auth={} tls={} metrics={} path_roots={}", host, (*srv)->port(),
            o.redis, o.prefix, o.tokens_file.empty() ? "none" : "tokens", o.tls_cert.empty() ? "off" : "on",
            o.metrics_listen.empty() ? "off" : o.metrics_listen, o.service.paths.allowed_roots.size());
  int sig = 0;
  sigwait(&signals, &sig);
  log->info("received signal {}", sig);
  (*srv)->Shutdown();
  return 0;
}

// landscape-worker: takes prepare and tile tasks from Redis and computes them
// with the LibTorch engine. SIGTERM/SIGINT: finish the running task (within
// --drain-timeout) and exit; a second signal gives the task back at once.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "artifact_cache.h"
#include "engine_evaluator.h"
#include "landscape/core/job.h"
#include "landscape/core/system.h"
#include "landscape/engine/engine.h"
#include "landscape/engine/flags.h"
#include "landscape/redis/artifact_store.h"
#include "landscape/redis/tile_queue.h"
#include "sandbox.h"
#include "worker.h"

using namespace landscape;

namespace {

std::atomic<int> g_stop{0};
void OnSignal(int) { g_stop.fetch_add(1); }

struct MainOptions {
  std::string redis;
  std::string prefix = "lls:";
  landscape::engine::EngineOptions engine;  // --device, --threads, --data-root and the evaluation paths (flags.h)
  std::string cache;
  std::string name;
  int64_t claim_idle_ms = 30000;
  int64_t heartbeat_ms = 0;  // 0: claim_idle / 3 (CheckOptions sets it)
  int max_deliveries = 10;
  int max_task_crashes = 2;
  int64_t poll_ms = 1000;
  double drain_timeout_s = 60;
  size_t cached_jobs = 2;
  std::string log_level = "info";
  redis::ArtifactOptions artifacts;  // the prepared files the worker stores (as the server's limits)
  bool no_sandbox = false;           // evaluate in the worker's own process (a crashing model takes it down)
  int64_t job_memory_bytes = int64_t{8} << 30;
  double prepare_timeout_s = 3600;
  double tile_timeout_s = 3600;
  int job_child_fd = -1;  // hidden: this process is a job's child, serving its parent on this descriptor
  std::vector<std::string> allow_path_roots;  // where spec paths may point (the server's --allow-path-root)
};

std::string DefaultName() {
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  return std::string(host) + "-" + std::to_string(getpid()) + "-" + core::RandomId(4);
}

// Paths a spec may name on this worker: --allow-path-root; never its cache (scratch is inside it).
core::PathPolicy PathPolicyOf(const MainOptions& o) {
  core::PathPolicy p;
  p.allowed_roots = o.allow_path_roots;
  p.denied_roots = {o.cache};
  return p;
}

// The worker's arguments, for its sandbox's children.
std::vector<std::string> g_args;

// A job's evaluation process (--job-child-fd): the engine with the worker's cache, serving its parent.
int RunChild(const MainOptions& o, const redis::RedisOptions& redis_opts) {
  const redis::Schema schema(o.prefix);
  auto pool = redis::ConnectionPool::Create(redis_opts, 1);
  redis::RedisArtifactStore artifacts(pool, schema, o.artifacts);
  worker::ArtifactCache cache(o.cache, &artifacts);
  cache.SetPathPolicy(PathPolicyOf(o));
  worker::EngineEvaluatorFactory evaluators(o.engine, &cache);
  const int rc = worker::RunJobChild(o.job_child_fd, evaluators, o.job_memory_bytes);
  std::fflush(stdout);
  std::_Exit(rc);  // no static destructors: LibTorch's may run after the parent has gone
}

// The queue's flags: where the work is, how tasks are reclaimed and dead-lettered, and the files stored.
void AddQueueFlags(CLI::App& app, MainOptions& o, double* artifact_ttl_s) {
  app.add_option("--redis", o.redis, "redis://HOST:PORT[/DB] (default: $LANDSCAPE_REDIS)");
  app.add_option("--prefix", o.prefix, "prefix of every Redis key (as the server's)")->capture_default_str();
  app.add_option("--cache", o.cache, "directory of cached artifacts (default: ~/.cache/landscape)");
  app.add_option("--name", o.name, "consumer name in the queue (default: HOST-PID-RANDOM)");
  app.add_option("--claim-idle-ms", o.claim_idle_ms, "reclaim tasks idle this long (their worker is presumed dead)")
      ->capture_default_str();
  app.add_option("--heartbeat-ms", o.heartbeat_ms, "heartbeat of a running task (default: claim idle / 3)");
  app.add_option("--max-deliveries", o.max_deliveries,
                 "dead-letter a task delivered more often than this (each worker holding it vanished)")
      ->capture_default_str();
  app.add_option("--max-task-crashes", o.max_task_crashes,
                 "dead-letter a task whose evaluation process died this many times (the poison rule)")
      ->capture_default_str();
  app.add_option("--poll-ms", o.poll_ms, "longest wait for a task in one call")->capture_default_str();
  app.add_option("--drain-timeout", o.drain_timeout_s, "seconds the running task gets after SIGTERM")
      ->capture_default_str();
  app.add_option("--cached-jobs", o.cached_jobs, "jobs kept loaded (model and data in memory each)")
      ->capture_default_str();
  app.add_option("--artifact-ttl", *artifact_ttl_s,
                 "seconds a stored direction or projection file is kept after its last use (as the server's; a "
                 "job keeps its files at least as long as its own keys)")
      ->check(CLI::Range(1.0, 1e9))
      ->capture_default_str();
  app.add_option("--max-artifact-bytes", o.artifacts.max_bytes,
                 "largest direction or projection file stored (as the server's); a job whose file is larger fails")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 40))
      ->capture_default_str();
}

// The sandbox's flags: what a job's evaluation process may use, and which paths a spec may name.
void AddSandboxFlags(CLI::App& app, MainOptions& o) {
  app.add_flag("--no-sandbox", o.no_sandbox,
               "prepare jobs and compute tiles in this process (debugging; a model that crashes LibTorch, or a "
               "job's memory or time, is then not contained)");
  app.add_option("--job-memory-bytes", o.job_memory_bytes,
                 "resident memory a job's evaluation process may use (its preparation and tiles); over it the job "
                 "fails")
      ->check(CLI::Range(int64_t{64} << 20, int64_t{1} << 50))
      ->capture_default_str();
  app.add_option("--prepare-timeout", o.prepare_timeout_s,
                 "seconds a job's preparation (and the loading of its model for tiles) may take; over it the job fails")
      ->check(CLI::Range(0.1, 1e7))
      ->capture_default_str();
  app.add_option("--tile-timeout", o.tile_timeout_s, "seconds one tile may take; over it the job fails")
      ->check(CLI::Range(0.1, 1e7))
      ->capture_default_str();
  app.add_option("--job-child-fd", o.job_child_fd)->group("");  // internal: the sandbox's child
  app.add_option("--allow-path-root", o.allow_path_roots,
                 "directory whose files a spec may name by path (repeatable; as the server's). Without it the "
                 "worker only refuses paths into its cache; the server refuses the rest");
}

// Checks and completes the parsed options (device resolved, name and cache defaulted, the cache made).
// "" when they are usable, else the usage message (exit 2).
std::string CheckOptions(MainOptions& o) {
  if (auto d = engine::ResolveDevice(o.engine.device); d.ok()) {
    o.engine.device = *d;
  } else {
    return "--device: " + d.status().message();
  }
  if (core::Status s = engine::CheckPrecision(o.engine.precision, o.engine.device, "--precision"); !s.ok()) {
    return s.ToString();
  }
  if (o.redis.empty()) return "--redis (or LANDSCAPE_REDIS) is required";
  if (o.claim_idle_ms < 100 || o.max_deliveries < 1 || o.max_task_crashes < 1) {
    return "--claim-idle-ms must be >= 100, --max-deliveries and --max-task-crashes >= 1";
  }
  if (o.heartbeat_ms <= 0) o.heartbeat_ms = o.claim_idle_ms / 3;  // the default: three beats per claim timeout
  if (o.heartbeat_ms >= o.claim_idle_ms) return "--heartbeat-ms must be below --claim-idle-ms";
  if (o.name.empty()) o.name = DefaultName();
  if (o.cache.empty()) o.cache = worker::DefaultCacheDir();
  std::error_code ec;
  std::filesystem::create_directories(o.cache, ec);
  if (ec) return "cannot create the cache directory " + o.cache + ": " + ec.message();
  return "";
}

// Where jobs are evaluated: a child process per job (the sandbox), or this process with --no-sandbox.
std::unique_ptr<core::EvaluatorFactory> EvaluatorsOf(const MainOptions& o, worker::ArtifactCache* cache) {
  if (o.no_sandbox) return std::make_unique<worker::EngineEvaluatorFactory>(o.engine, cache);
  worker::SandboxOptions sopts;
  sopts.child_args = g_args;
  sopts.memory_bytes = o.job_memory_bytes;
  sopts.limit_address_space = o.engine.device == "cpu";  // CUDA reserves address space far beyond what it uses
  sopts.prepare_timeout = std::chrono::milliseconds(static_cast<int64_t>(o.prepare_timeout_s * 1000));
  sopts.tile_timeout = std::chrono::milliseconds(static_cast<int64_t>(o.tile_timeout_s * 1000));
  return std::make_unique<worker::SandboxEvaluatorFactory>(std::move(sopts));
}

// The worker's loop until a signal: waits for Redis, then takes and runs tasks. -> the exit code.
int RunWorker(const MainOptions& o, const redis::RedisOptions& redis_opts, spdlog::logger& log) {
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);

  redis::QueueOptions qopts;
  qopts.claim_idle = std::chrono::milliseconds(o.claim_idle_ms);
  qopts.max_deliveries = o.max_deliveries;
  qopts.max_crashes = o.max_task_crashes;
  qopts.device_kind = o.engine.device.rfind("cuda", 0) == 0 ? "cuda" : "cpu";
  const redis::Schema schema(o.prefix);
  auto pool = redis::ConnectionPool::Create(redis_opts, 4);
  redis::RedisTileQueue queue(pool, schema, qopts, o.name);
  redis::RedisTileQueue control(pool, schema, qopts, o.name);
  redis::RedisArtifactStore artifacts(pool, schema, o.artifacts);

  log.info("starting name={} redis={} prefix={} device={} threads={} cache={}", o.name,
           redis::DisplayUrl(redis_opts), o.prefix, o.engine.device, o.engine.threads, o.cache);
  // Wait for Redis (it may start after us, or be restarting).
  for (auto backoff = std::chrono::milliseconds(200); g_stop.load() == 0;) {
    core::Status s = queue.EnsureGroup();
    if (s.ok()) break;
    log.warn("waiting for redis error=\"{}\"", s.ToString());
    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
  }

  worker::ArtifactCache cache(o.cache, &artifacts);
  cache.SetPathPolicy(PathPolicyOf(o));
  std::unique_ptr<core::EvaluatorFactory> evaluators = EvaluatorsOf(o, &cache);
  log.info("evaluation sandbox={} job_memory_bytes={} prepare_timeout_s={} tile_timeout_s={}",
           o.no_sandbox ? "off" : "child-process", o.job_memory_bytes, o.prepare_timeout_s, o.tile_timeout_s);

  worker::WorkerOptions wopts;
  wopts.scratch_dir = (std::filesystem::path(o.cache) / "scratch").string();
  wopts.poll = std::chrono::milliseconds(o.poll_ms);
  wopts.heartbeat = std::chrono::milliseconds(o.heartbeat_ms);  // set by CheckOptions
  wopts.drain_timeout = std::chrono::milliseconds(static_cast<int64_t>(o.drain_timeout_s * 1000));
  wopts.cached_jobs = o.cached_jobs;
  {
    worker::Worker w(wopts, queue, control, artifacts, *evaluators);
    w.Run(g_stop);
  }
  log.info("exiting");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  g_args.assign(argv, argv + argc);
  core::PrepareComputeProcess(argv);
  MainOptions o;
  if (const char* env = std::getenv("LANDSCAPE_REDIS")) o.redis = env;
  CLI::App app{"landscape-worker: computes loss-landscape tiles from a Redis queue"};
  app.set_version_flag("--version", std::string("landscape-worker ") + LANDSCAPE_VERSION);
  double artifact_ttl_s = static_cast<double>(o.artifacts.ttl.count());
  AddQueueFlags(app, o, &artifact_ttl_s);
  engine::AddEngineFlags(&app, &o.engine);  // the same flags as `landscape local`'s
  AddSandboxFlags(app, o);
  app.add_option("--log-level", o.log_level, "trace | debug | info | warn | error")->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;  // --help: 0; a bad flag or value: 2 (usage), as the CLI
  }
  o.artifacts.ttl = std::chrono::seconds(static_cast<int64_t>(artifact_ttl_s));
  if (const std::string usage = CheckOptions(o); !usage.empty()) {
    std::fprintf(stderr, "landscape-worker: %s\n", usage.c_str());
    return 2;
  }
  auto redis_opts = redis::ParseRedisUrl(o.redis);
  if (!redis_opts.ok()) {
    std::fprintf(stderr, "landscape-worker: %s\n", redis_opts.status().ToString().c_str());
    return 2;
  }

  auto log = spdlog::stdout_logger_mt(o.job_child_fd >= 0 ? "job-child" : "worker");
  spdlog::set_default_logger(log);
  spdlog::set_level(spdlog::level::from_str(o.log_level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %l [%n] %v");
  spdlog::flush_on(spdlog::level::info);

  if (o.job_child_fd >= 0) return RunChild(o, *redis_opts);
  return RunWorker(o, *redis_opts, *log);
}

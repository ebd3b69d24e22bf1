// The service as real processes, for the integration tests: a redis-server of the cluster's own,
// landscape-server (started, stopped, restarted with other flags or killed) and landscape-workers, each
// logging into the cluster's directory, and the helpers the tests share (a gRPC stub, an RPC context with a
// token, the `landscape` CLI against the server, Redis commands, waiting for a job's final state).
//
// Everything a Cluster starts is stopped (SIGKILL) when it is destroyed: workers, then the server, then
// Redis. Its directory is removed, or kept (and its path printed) when the test failed, for the logs.
// The Redis is always a redis-server of the cluster's own, never $LANDSCAPE_TEST_REDIS: the tests read the
// service's global keys (the queue, the dead letters) and stop and restart Redis.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "landscape/redis/connection.h"
#include "landscape/v1/landscape.grpc.pb.h"
#include "process.h"

namespace landscape::testing {

/// The built programs the cluster tests run.
std::string CliBinary();     // client/landscape
std::string ServerBinary();  // server/landscape-server
std::string WorkerBinary();  // worker/landscape-worker

struct ClusterOptions {
  /// Name prefix of the cluster's directory under the system's temporary directory.
  std::string dir_prefix = "landscape-cluster";
  /// The cluster's redis-server (aof: appendonly with fsync always, for the Redis-restart test).
  RedisServer::Options redis;
  /// Contents of a tokens file ("TOKEN TENANT [key=value ...]" lines) given to the server as --tokens;
  /// empty: no tokens file, every client is anonymous.
  std::string tokens;
  /// Flags of every server start, after --listen, --redis and --tokens.
  std::vector<std::string> server_flags;
  /// Start the server (with server_flags) in the constructor.
  bool start_server = false;
  /// Flags of every worker, after --redis, --name and --cache: one thread, a poll every 200 ms, and a dead
  /// worker's task reclaimed after 1.5 s.
  std::vector<std::string> worker_flags{"--threads", "1", "--poll-ms", "200", "--claim-idle-ms", "1500"};
  /// Workers started in the constructor, after the server, named w1, w2, ...
  int workers = 0;
};

/// Redis, one server and workers, each a real process. Not copyable or movable: it owns the processes.
class Cluster {
 public:
  explicit Cluster(ClusterOptions options = {});
  ~Cluster();
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  /// (Re)starts the server with the options' flags and `extra`: a running server is stopped first (SIGTERM,
  /// waited for); returns once the new one logs that it listens (a fatal test failure after 20 s).
  void StartServer(const std::vector<std::string>& extra = {});
  /// Sends `sig` to the server, waits for its end, and starts it again with the same flags.
  void RestartServer(int sig);

  /// Starts worker `name` (cache CacheDir(name), log <dir>/<name>.log) with the options' flags and `extra`,
  /// `env` ("NAME=value") added to its environment; returns once it logs that it started (a test failure
  /// after 30 s). The cluster owns it (stopped ones included) until the cluster ends.
  Process* StartWorker(const std::string& name, const std::vector<std::string>& extra = {},
                       const std::vector<std::string>& env = {});

  /// "127.0.0.1:PORT" of the server's gRPC API.
  std::string Addr() const { return "127.0.0.1:" + std::to_string(port_); }
  const std::string& dir() const { return dir_; }
  /// The path of the tokens file (written from the options; rewritten by SetTokens).
  std::string TokensPath() const { return dir_ + "/tokens"; }
  /// Replaces the tokens file: the next StartServer reads it (and gives --tokens, if the options had none).
  void SetTokens(const std::string& text);
  /// The artifact cache directory of worker `name`.
  std::string CacheDir(const std::string& name) const { return dir_ + "/cache-" + name; }
  RedisServer& redis() { return *redis_; }
  Process& server() { return *server_; }

  std::unique_ptr<v1::LandscapeService::Stub> Stub() const;

  /// Runs `landscape ARGS` to its end (5 minutes at most), `env` added to its environment.
  CommandResult Cli(const std::vector<std::string>& args, const std::vector<std::string>& env = {}) const;
  /// Starts `landscape ARGS` in the background, its output in <dir>/<log_name>.
  std::unique_ptr<Process> StartCli(const std::vector<std::string>& args, const std::string& log_name) const;
  /// `landscape submit --server ADDR ARGS` (uploading local files); expects exit 0 and returns the job's id
  /// (the hex digits of "jobs/ID"), "" when the output names no job.
  std::string Submit(const std::vector<std::string>& args, const std::vector<std::string>& env = {}) const;

  /// A command against the cluster's Redis on one kept connection (reconnecting once when Redis restarted).
  redis::Reply Redis(const std::vector<std::string>& args);
  /// An integer reply (-1, and a test failure, when it is none).
  int64_t RedisInt(const std::vector<std::string>& args);
  /// HGET key field; "<nil>" when the field or key does not exist.
  std::string RedisHGet(const std::string& key, const std::string& field);
  /// A field of job `id`'s record (lls:job:ID); "" when absent.
  std::string JobField(const std::string& id, const std::string& field);
  /// Waits until job `id` is SUCCEEDED, FAILED or CANCELLED and returns that state; the last state read
  /// ("" for none) when `timeout` passed first.
  std::string WaitFinal(const std::string& id, std::chrono::seconds timeout = std::chrono::seconds(240));

 private:
  void LaunchServer();

  ClusterOptions options_;
  std::string dir_;
  std::unique_ptr<RedisServer> redis_;
  int port_ = 0;
  bool has_tokens_ = false;
  std::vector<std::string> server_argv_;  // of the last start
  std::unique_ptr<Process> server_;
  int server_starts_ = 0;  // "listening on" lines expected in the server's log so far
  std::vector<std::unique_ptr<Process>> workers_;
  std::unique_ptr<redis::Connection> conn_;
};

/// How often `what` occurs in `text` (overlapping occurrences counted).
int CountOf(const std::string& text, const std::string& what);

/// A client context whose deadline is `timeout` from now, with "authorization: Bearer TOKEN" unless
/// `token` is empty.
std::unique_ptr<grpc::ClientContext> RpcContext(const std::string& token = "",
                                                std::chrono::seconds timeout = std::chrono::seconds(30));

/// The whole HTTP/1.0 answer (status line, headers, body) to GET `path` on 127.0.0.1:`port`, with an
/// Authorization header when `authorization` is not empty; "" when nothing answers.
std::string HttpGet(int port, const std::string& path, const std::string& authorization = "");

}  // namespace landscape::testing

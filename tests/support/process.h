// Test and benchmark helpers: child processes with logs, free ports,
// temporary directories, polling with deadlines, and a private redis-server.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace landscape::testing {

/// Path of a built program, e.g. Binary("server/landscape-server").
std::string Binary(const std::string& relative);

/// The path of program `name` found on $PATH (then /usr/bin, /usr/sbin), or `name` if not found.
std::string FindProgram(const std::string& name);

/// A TCP port on 127.0.0.1 that was free a moment ago.
int FreePort();

/// A new empty directory under the system's temporary directory.
std::string MakeTempDir(const std::string& prefix);

/// A MakeTempDir directory removed with everything in it when destroyed
/// (kept, and its path printed, when LANDSCAPE_KEEP_TEST_DIRS is set).
/// Movable, not copyable: exactly one owner removes it.
class ScopedTempDir {
 public:
  explicit ScopedTempDir(const std::string& prefix) : path_(MakeTempDir(prefix)) {}
  ~ScopedTempDir();
  ScopedTempDir(ScopedTempDir&& other) noexcept : path_(std::move(other.path_)) { other.path_.clear(); }
  ScopedTempDir& operator=(ScopedTempDir&&) = delete;
  ScopedTempDir(const ScopedTempDir&) = delete;
  ScopedTempDir& operator=(const ScopedTempDir&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string ReadFile(const std::string& path);

/// Calls `pred` every `every` until it returns true (true) or `timeout` passes (false).
bool WaitFor(const std::function<bool()>& pred, std::chrono::milliseconds timeout,
             std::chrono::milliseconds every = std::chrono::milliseconds(50));

/// A child process whose stdout and stderr go to a log file. Killed (SIGKILL)
/// and reaped when destroyed, if still running, and killed by the kernel if
/// the thread that started it dies first (PR_SET_PDEATHSIG): start processes
/// from a thread that outlives them.
class Process {
 public:
  static std::unique_ptr<Process> Start(const std::vector<std::string>& argv, const std::string& log_path,
                                        const std::vector<std::string>& extra_env = {});
  ~Process();

  pid_t pid() const { return pid_; }
  const std::string& log_path() const { return log_; }
  std::string Log() const { return ReadFile(log_); }
  /// True while the process has not exited.
  bool Running();
  void Signal(int sig);
  /// The exit status (128 + signal when killed), or -1 if still running after `timeout`.
  int Wait(std::chrono::milliseconds timeout);

 private:
  pid_t pid_ = -1;
  int status_ = -1;
  std::string log_;
};

struct CommandResult {
  int exit_code = -1;  // 128 + signal when killed, -1 on timeout
  std::string output;  // stdout and stderr together
};
/// Runs a command to its end (killed after `timeout`).
CommandResult RunCommand(const std::vector<std::string>& argv,
                         std::chrono::milliseconds timeout = std::chrono::minutes(5),
                         const std::vector<std::string>& extra_env = {});

/// A redis-server of its own on a free loopback port.
class RedisServer {
 public:
  struct Options {
    bool aof = false;  // appendonly yes, appendfsync always
  };
  static std::unique_ptr<RedisServer> Start(Options opts);
  static std::unique_ptr<RedisServer> Start() { return Start(Options{}); }
  ~RedisServer();

  int port() const { return port_; }
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }
  /// Stops the server with `sig` and waits for it.
  void Stop(int sig);
  /// Starts it again on the same port and directory (its AOF is replayed); waits until it answers.
  bool Restart();
  /// Runs redis-cli against it; returns the output (trimmed).
  std::string Cli(const std::vector<std::string>& args) const;

 private:
  bool Launch();
  Options opts_;
  int port_ = 0;
  std::string dir_;
  std::unique_ptr<Process> proc_;
};

/// The Redis a test uses: $LANDSCAPE_TEST_REDIS when set (the test command's shared one; each test then keeps
/// to a key prefix of its own), else a redis-server of its own, started into `*own`. "" when none could start.
std::string TestRedisUrl(std::unique_ptr<RedisServer>* own);

}  // namespace landscape::testing

// Test support: run the real binaries as child processes.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace landscape::testing {

struct ProcessResult {
  int exit_code = -1;  // valid when !signaled
  bool signaled = false;
  int signal = 0;
  bool timed_out = false;
  std::string out;  // stdout
  std::string err;  // stderr
};

/// Runs `argv` to completion (killed after `timeout`), capturing stdout and stderr.
ProcessResult Run(const std::vector<std::string>& argv, std::chrono::seconds timeout = std::chrono::seconds(300));

/// A child process running in the background (stdout/stderr to files).
class Child {
 public:
  Child() = default;
  explicit Child(const std::vector<std::string>& argv, const std::string& log_prefix = {});
  ~Child();
  Child(Child&& o) noexcept;
  Child& operator=(Child&& o) noexcept;
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  int pid() const { return pid_; }
  bool running();
  void Signal(int sig);
  /// Waits for exit; returns the wait status (as from waitpid), or -1 on timeout.
  int Wait(std::chrono::milliseconds timeout);
  std::string Stderr() const;
  std::string Stdout() const;

 private:
  int pid_ = -1;
  int status_ = -1;
  std::string out_path_, err_path_;
};

/// The path of a built executable (LANDSCAPE_BINARY_DIR/<relative>).
std::string BinaryPath(const std::string& relative);

/// A fresh temporary directory, removed by the caller if desired.
std::string MakeTempDir(const std::string& name);

std::string ReadFile(const std::string& path);

}  // namespace landscape::testing

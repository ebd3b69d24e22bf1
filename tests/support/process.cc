#include "process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

extern char** environ;

namespace landscape::testing {

std::string Binary(const std::string& relative) { return std::string(LANDSCAPE_BUILD_DIR) + "/" + relative; }

std::string FindProgram(const std::string& name) {
  std::string path = std::getenv("PATH") != nullptr ? std::getenv("PATH") : "";
  path += ":/usr/bin:/usr/sbin";
  size_t start = 0;
  while (start <= path.size()) {
    const size_t end = std::min(path.find(':', start), path.size());
    const std::string dir = path.substr(start, end - start);
    if (!dir.empty()) {
      const std::string candidate = dir + "/" + name;
      if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    }
    start = end + 1;
  }
  return name;
}

int FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::string MakeTempDir(const std::string& prefix) {
  std::string tmpl = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
  if (::mkdtemp(tmpl.data()) == nullptr) return "";
  return tmpl;
}

ScopedTempDir::~ScopedTempDir() {
  if (path_.empty()) return;
  if (std::getenv("LANDSCAPE_KEEP_TEST_DIRS") != nullptr) {
    std::fprintf(stderr, "kept %s\n", path_.c_str());
    return;
  }
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool WaitFor(const std::function<bool()>& pred, std::chrono::milliseconds timeout, std::chrono::milliseconds every) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(every);
  }
}

std::unique_ptr<Process> Process::Start(const std::vector<std::string>& argv, const std::string& log_path,
                                        const std::vector<std::string>& extra_env) {
  // Everything exec needs is built before fork: the child only calls async-signal-safe functions.
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<std::string> env_store;
  for (char** e = environ; *e != nullptr; ++e) env_store.emplace_back(*e);
  for (const auto& e : extra_env) env_store.push_back(e);
  std::vector<char*> env;
  for (auto& e : env_store) env.push_back(e.data());
  env.push_back(nullptr);
  const int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return nullptr;
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the test (or benchmark) that started us
    ::execve(args[0], args.data(), env.data());
    ::_exit(127);
  }
  ::close(fd);
  if (pid < 0) return nullptr;
  auto p = std::unique_ptr<Process>(new Process());
  p->pid_ = pid;
  p->log_ = log_path;
  return p;
}

Process::~Process() {
  if (Running()) {
    Signal(SIGKILL);
    Wait(std::chrono::seconds(10));
  }
}

bool Process::Running() {
  if (status_ != -1) return false;
  int st = 0;
  const pid_t r = ::waitpid(pid_, &st, WNOHANG);
  if (r == 0) return true;
  status_ = r == pid_ ? (WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st)) : 255;
  return false;
}

void Process::Signal(int sig) {
  if (status_ == -1) ::kill(pid_, sig);
}

int Process::Wait(std::chrono::milliseconds timeout) {
  WaitFor([&] { return !Running(); }, timeout, std::chrono::milliseconds(10));
  return status_;
}

CommandResult RunCommand(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                         const std::vector<std::string>& extra_env) {
  CommandResult r;
  const std::string dir = MakeTempDir("landscape-cmd");
  const std::string log = dir + "/out.log";
  {
    auto p = Process::Start(argv, log, extra_env);
    if (!p) return r;
    r.exit_code = p->Wait(timeout);
  }
  r.output = ReadFile(log);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return r;
}

std::unique_ptr<RedisServer> RedisServer::Start(Options opts) {
  auto r = std::unique_ptr<RedisServer>(new RedisServer());
  r->opts_ = opts;
  r->dir_ = MakeTempDir("landscape-redis");
  for (int attempt = 0; attempt < 5; ++attempt) {
    r->port_ = FreePort();
    if (r->Launch()) return r;
  }
  return nullptr;
}

bool RedisServer::Launch() {
  std::vector<std::string> argv{FindProgram("redis-server"), "--bind", "127.0.0.1", "--port", std::to_string(port_),
                                "--dir", dir_, "--save", "", "--daemonize", "no"};
  if (opts_.aof) {
    argv.insert(argv.end(), {"--appendonly", "yes", "--appendfsync", "always"});
  } else {
    argv.insert(argv.end(), {"--appendonly", "no"});
  }
  proc_ = Process::Start(argv, dir_ + "/redis.log");
  if (!proc_) return false;
  return WaitFor([&] { return proc_->Running() && Cli({"PING"}) == "PONG"; }, std::chrono::seconds(10));
}

void RedisServer::Stop(int sig) {
  if (!proc_) return;
  proc_->Signal(sig);
  proc_->Wait(std::chrono::seconds(20));
  proc_.reset();
}

bool RedisServer::Restart() {
  Stop(SIGTERM);
  return Launch();
}

std::string RedisServer::Cli(const std::vector<std::string>& args) const {
  std::vector<std::string> argv{FindProgram("redis-cli"), "-h", "127.0.0.1", "-p", std::to_string(port_)};
  argv.insert(argv.end(), args.begin(), args.end());
  std::string out = RunCommand(argv, std::chrono::seconds(10)).output;
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r' || out.back() == ' ')) out.pop_back();
  return out;
}

RedisServer::~RedisServer() {
  Stop(SIGKILL);
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string TestRedisUrl(std::unique_ptr<RedisServer>* own) {
  if (const char* env = std::getenv("LANDSCAPE_TEST_REDIS"); env != nullptr && *env != '\0') return env;
  *own = RedisServer::Start();
  return *own ? (*own)->url() : std::string();
}

}  // namespace landscape::testing

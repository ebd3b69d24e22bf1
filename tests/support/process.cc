#include "process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace landscape::testing {

namespace {

int Spawn(const std::vector<std::string>& argv, const std::string& out, const std::string& err) {
  const pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    const int fo = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int fe = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fo >= 0) dup2(fo, 1);
    if (fe >= 0) dup2(fe, 2);
    const int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  return pid;
}

}  // namespace

std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string BinaryPath(const std::string& relative) { return std::string(LANDSCAPE_BINARY_DIR) + "/" + relative; }

std::string MakeTempDir(const std::string& name) {
  std::string tmpl = (std::filesystem::temp_directory_path() / ("landscape_" + name + "_XXXXXX")).string();
  char* p = mkdtemp(tmpl.data());
  return p ? std::string(p) : std::string();
}

ProcessResult Run(const std::vector<std::string>& argv, std::chrono::seconds timeout) {
  Child c(argv);
  ProcessResult r;
  const int status = c.Wait(std::chrono::duration_cast<std::chrono::milliseconds>(timeout));
  if (status == -1) {
    r.timed_out = true;
    c.Signal(SIGKILL);
    c.Wait(std::chrono::milliseconds(5000));
  } else if (WIFSIGNALED(status)) {
    r.signaled = true;
    r.signal = WTERMSIG(status);
  } else {
    r.exit_code = WEXITSTATUS(status);
  }
  r.out = c.Stdout();
  r.err = c.Stderr();
  return r;
}

Child::Child(const std::vector<std::string>& argv, const std::string& log_prefix) {
  static int counter = 0;
  const std::string base = log_prefix.empty() ? (std::filesystem::temp_directory_path() /
                                                 ("landscape_child_" + std::to_string(getpid()) + "_" +
                                                  std::to_string(counter++)))
                                                    .string()
                                              : log_prefix;
  out_path_ = base + ".out";
  err_path_ = base + ".err";
  pid_ = Spawn(argv, out_path_, err_path_);
}

Child::~Child() {
  if (pid_ > 0 && running()) {
    Signal(SIGKILL);
    Wait(std::chrono::milliseconds(5000));
  }
}

Child::Child(Child&& o) noexcept { *this = std::move(o); }
Child& Child::operator=(Child&& o) noexcept {
  std::swap(pid_, o.pid_);
  std::swap(status_, o.status_);
  std::swap(out_path_, o.out_path_);
  std::swap(err_path_, o.err_path_);
  return *this;
}

bool Child::running() {
  if (pid_ <= 0 || status_ != -1) return false;
  int st = 0;
  const pid_t r = waitpid(pid_, &st, WNOHANG);
  if (r == pid_) {
    status_ = st;
    return false;
  }
  return r == 0;
}

void Child::Signal(int sig) {
  if (pid_ > 0 && status_ == -1) kill(pid_, sig);
}

int Child::Wait(std::chrono::milliseconds timeout) {
  if (status_ != -1) return status_;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int st = 0;
    const pid_t r = waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      status_ = st;
      return status_;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return -1;
}

std::string Child::Stderr() const { return ReadFile(err_path_); }
std::string Child::Stdout() const { return ReadFile(out_path_); }

}  // namespace landscape::testing

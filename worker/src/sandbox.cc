#include "sandbox.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <new>

namespace landscape::worker {

using core::Result;
using core::Status;
using core::StatusCode;
using Clock = std::chrono::steady_clock;

namespace {

constexpr uint32_t kMaxFrameBytes = 1u << 30;  // a tile's values or a spec: far below
enum Op : uint8_t { kPrepareOp = 1, kOpenOp = 2, kEvaluateOp = 3 };

// ---- encoding ----------------------------------------------------------------

struct Writer {
  std::string buf;
  void U8(uint8_t v) { buf.push_back(static_cast<char>(v)); }
  template <typename T>
  void Raw(T v) {
    buf.append(reinterpret_cast<const char*>(&v), sizeof v);
  }
  void Str(const std::string& s) {
    Raw(static_cast<uint32_t>(s.size()));
    buf.append(s);
  }
};

// Reads a payload; every read is bounds-checked (ok() false after a short one).
struct Reader {
  const std::string& buf;
  size_t pos = 0;
  bool good = true;
  template <typename T>
  T Raw() {
    T v{};
    if (!good || buf.size() - pos < sizeof v) {
      good = false;
      return v;
    }
    std::memcpy(&v, buf.data() + pos, sizeof v);
    pos += sizeof v;
    return v;
  }
  uint8_t U8() { return Raw<uint8_t>(); }
  std::string Str() {
    const auto n = Raw<uint32_t>();
    if (!good || buf.size() - pos < n) {
      good = false;
      return {};
    }
    std::string s = buf.substr(pos, n);
    pos += n;
    return s;
  }
};

void PutStatus(Writer& w, const Status& s) {
  w.U8(static_cast<uint8_t>(s.code()));
  w.Str(s.message());
  w.Str(s.field());
}

Status GetStatus(Reader& r) {
  const auto code = r.U8();
  std::string message = r.Str();
  std::string field = r.Str();
  if (!r.good || code > static_cast<uint8_t>(StatusCode::kInternal)) {
    return Status(StatusCode::kInternal, "a malformed reply from the evaluation process");
  }
  if (code == 0) return Status();
  // kAborted is the parent's own word for a child that died: an error the child reports is never one.
  const auto c = static_cast<StatusCode>(code) == StatusCode::kAborted ? StatusCode::kInternal
                                                                          : static_cast<StatusCode>(code);
  return Status(c, std::move(message), std::move(field));
}

bool WriteAll(int fd, const char* p, size_t n) {
  while (n > 0) {
    const ssize_t k = ::send(fd, p, n, MSG_NOSIGNAL);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return false;
    p += k;
    n -= static_cast<size_t>(k);
  }
  return true;
}

bool SendFrame(int fd, const std::string& payload) {
  const auto n = static_cast<uint32_t>(payload.size());
  return WriteAll(fd, reinterpret_cast<const char*>(&n), sizeof n) && WriteAll(fd, payload.data(), payload.size());
}

// Blocking read of one frame (the child's side); false at EOF or on a bad length.
bool ReadFrameBlocking(int fd, std::string* out) {
  auto read_all = [&](char* p, size_t n) {
    while (n > 0) {
      const ssize_t k = ::read(fd, p, n);
      if (k < 0 && errno == EINTR) continue;
      if (k <= 0) return false;
      p += k;
      n -= static_cast<size_t>(k);
    }
    return true;
  };
  uint32_t n = 0;
  if (!read_all(reinterpret_cast<char*>(&n), sizeof n) || n > kMaxFrameBytes) return false;
  out->resize(n);
  return read_all(out->data(), n);
}

std::string SignalText(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return "signal " + std::to_string(sig) + (abbrev ? std::string(" SIG") + abbrev : std::string());
}

int64_t ResidentBytes(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/statm");
  int64_t size = 0, resident = 0;
  if (!(in >> size >> resident)) return 0;
  return resident * static_cast<int64_t>(sysconf(_SC_PAGESIZE));
}

// ---- the parent's handle on one child ------------------------------------------

class Child {
 public:
  Child(const SandboxOptions& opts) : opts_(opts) {}
  ~Child() { Kill(); }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  bool alive() const { return pid_ > 0; }

  Status Start() {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
      return Status(StatusCode::kInternal, std::string("socketpair: ") + std::strerror(errno));
    }
    // Everything the child needs is made before fork: after it only async-signal-safe calls.
    std::vector<std::string> args = opts_.child_args;
    if (args.empty()) args.emplace_back("landscape-worker");
    args.insert(args.end(), {"--job-child-fd", "3"});
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    rlimit as{};
    as.rlim_cur = as.rlim_max = static_cast<rlim_t>(opts_.memory_bytes + opts_.address_space_slack);
    const bool limit_as = opts_.limit_address_space;
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) {
      const int e = errno;
      ::close(sv[0]);
      ::close(sv[1]);
      return Status(StatusCode::kUnavailable, std::string("fork: ") + std::strerror(e));
    }
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);
      if (sv[1] == 3) {
        ::fcntl(3, F_SETFD, 0);
      } else if (::dup2(sv[1], 3) < 0) {
        ::_exit(127);
      }
      if (limit_as) ::setrlimit(RLIMIT_AS, &as);
      ::execv("/proc/self/exe", argv.data());
      ::_exit(127);
    }
    ::close(sv[1]);
    pid_ = pid;
    fd_ = sv[0];
    return Status();
  }

  void Kill() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      int st = 0;
      while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
      }
    }
    pid_ = -1;
  }

  /// Sends `request` and waits for the reply, watching the child. `doing` names
  /// the step in messages ("preparing", "loading the job", "computing tile 3").
  Result<std::string> Call(const std::string& request, std::chrono::milliseconds timeout, const char* timeout_flag,
                           const std::string& doing, const std::function<bool()>& keep_going) {
    if (!SendFrame(fd_, request)) return Died(doing);
    const auto deadline = Clock::now() + timeout;
    std::string buf;
    for (;;) {
      pollfd p{fd_, POLLIN, 0};
      const int r = ::poll(&p, 1, static_cast<int>(opts_.poll.count()));
      if (r > 0) {
        char chunk[65536];
        const ssize_t k = ::read(fd_, chunk, sizeof chunk);
        if (k == 0 || (k < 0 && errno != EINTR && errno != EAGAIN)) return Died(doing);
        if (k > 0) buf.append(chunk, static_cast<size_t>(k));
        if (buf.size() >= sizeof(uint32_t)) {
          uint32_t n = 0;
          std::memcpy(&n, buf.data(), sizeof n);
          if (n > kMaxFrameBytes) {
            Kill();
            return Status(StatusCode::kInternal, "a malformed reply from the evaluation process while " + doing);
          }
          if (buf.size() >= sizeof n + n) return buf.substr(sizeof n, n);
        }
      }
      if (keep_going && !keep_going()) {
        Kill();
        return Status(StatusCode::kCancelled, "stopped");
      }
      if (ResidentBytes(pid_) > opts_.memory_bytes) {
        Kill();
        return Status(StatusCode::kResourceExhausted, MemoryBudgetMessage(opts_.memory_bytes, doing));
      }
      if (Clock::now() > deadline) {
        Kill();
        return Status(StatusCode::kResourceExhausted, "deadline of " + std::to_string(timeout.count() / 1000.0) +
                                                          " s (" + timeout_flag + ") exceeded while " + doing);
      }
    }
  }

 private:
  // The child closed its end: reaps it and says why.
  Status Died(const std::string& doing) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    int st = 0;
    while (pid_ > 0 && ::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    if (WIFSIGNALED(st)) {
      return Status(StatusCode::kAborted, "the model crashed the evaluation process (" + SignalText(WTERMSIG(st)) +
                                               ") while " + doing);
    }
    return Status(StatusCode::kAborted, "the evaluation process exited (status " +
                                             std::to_string(WIFEXITED(st) ? WEXITSTATUS(st) : -1) + ") while " +
                                             doing);
  }

  const SandboxOptions& opts_;
  pid_t pid_ = -1;
  int fd_ = -1;
};

class SandboxTileEvaluator final : public core::TileEvaluator {
 public:
  SandboxTileEvaluator(const SandboxOptions& opts, std::string spec_json)
      : opts_(opts), spec_json_(std::move(spec_json)), child_(opts_) {}

  // Starts the child and loads the job in it (again after a kill).
  Status Load(const std::function<bool()>& keep_going) {
    LS_RETURN_IF_ERROR(child_.Start());
    Writer w;
    w.U8(kOpenOp);
    w.Str(spec_json_);
    LS_ASSIGN_OR_RETURN(std::string reply, child_.Call(w.buf, opts_.prepare_timeout, "--prepare-timeout",
                                                       "loading the job", keep_going));
    Reader r{reply};
    Status s = GetStatus(r);
    if (!s.ok()) {
      child_.Kill();
      return s;
    }
    description_ = r.Str();
    return Status();
  }

  Result<std::vector<double>> Evaluate(const core::Tile& tile, const std::function<bool()>& keep_going) override {
    if (!child_.alive()) LS_RETURN_IF_ERROR(Load(keep_going));
    Writer w;
    w.U8(kEvaluateOp);
    w.Raw<int64_t>(tile.index);
    w.Raw<int64_t>(tile.begin);
    w.Raw<int64_t>(tile.end);
    LS_ASSIGN_OR_RETURN(std::string reply, child_.Call(w.buf, opts_.tile_timeout, "--tile-timeout",
                                                       "computing tile " + std::to_string(tile.index), keep_going));
    Reader r{reply};
    LS_RETURN_IF_ERROR(GetStatus(r));
    const auto n = r.Raw<uint64_t>();
    if (!r.good || n > (reply.size() - r.pos) / sizeof(double)) {
      child_.Kill();
      return Status(StatusCode::kInternal, "a malformed reply from the evaluation process");
    }
    std::vector<double> values(n);
    std::memcpy(values.data(), reply.data() + r.pos, n * sizeof(double));
    return values;
  }

  std::string Description() const override { return "sandbox=child " + description_; }

 private:
  const SandboxOptions& opts_;
  std::string spec_json_;
  Child child_;
  std::string description_;
};

}  // namespace

std::string MemoryBudgetMessage(int64_t bytes, const std::string& doing) {
  return "job memory budget of " + std::to_string(bytes) + " bytes (--job-memory-bytes) exceeded while " + doing;
}

Result<core::PreparedFiles> SandboxEvaluatorFactory::Prepare(const core::JobSpec& spec,
                                                              const std::string& scratch_dir) {
  return Prepare(spec, scratch_dir, nullptr);
}

Result<core::PreparedFiles> SandboxEvaluatorFactory::Prepare(const core::JobSpec& spec, const std::string& scratch_dir,
                                                              const std::function<bool()>& keep_going) {
  Child child(opts_);
  LS_RETURN_IF_ERROR(child.Start());
  Writer w;
  w.U8(kPrepareOp);
  w.Str(core::SpecToJson(spec));
  w.Str(scratch_dir);
  LS_ASSIGN_OR_RETURN(std::string reply,
                      child.Call(w.buf, opts_.prepare_timeout, "--prepare-timeout", "preparing", keep_going));
  Reader r{reply};
  LS_RETURN_IF_ERROR(GetStatus(r));
  core::PreparedFiles files;
  files.directions = r.Str();
  files.projection = r.Str();
  const auto n = r.Raw<uint32_t>();
  for (uint32_t i = 0; i < n && r.good; ++i) {
    std::string k = r.Str();
    files.attributes[k] = r.Str();
  }
  if (!r.good) return Status(StatusCode::kInternal, "a malformed reply from the evaluation process while preparing");
  return files;
}

Result<std::unique_ptr<core::TileEvaluator>> SandboxEvaluatorFactory::Open(const core::JobSpec& spec) {
  auto e = std::make_unique<SandboxTileEvaluator>(opts_, core::SpecToJson(spec));
  LS_RETURN_IF_ERROR(e->Load(nullptr));
  return std::unique_ptr<core::TileEvaluator>(std::move(e));
}

// ---- the child's side ------------------------------------------------------------

namespace {

// An allocation that failed under RLIMIT_AS reads as the budget it broke.
Status NameTheBudget(Status s, int64_t memory_bytes, const std::string& doing) {
  if (s.ok()) return s;
  const std::string& m = s.message();
  if (m.find("alloc") != std::string::npos && (m.find("memory") != std::string::npos || m.find("bad_alloc") != std::string::npos)) {
    return Status(StatusCode::kResourceExhausted, MemoryBudgetMessage(memory_bytes, doing) + " (" + m + ")");
  }
  return s;
}

}  // namespace

int RunJobChild(int fd, core::EvaluatorFactory& factory, int64_t memory_bytes) {
  std::unique_ptr<core::TileEvaluator> evaluator;
  std::string request;
  while (ReadFrameBlocking(fd, &request)) {
    Reader r{request};
    Writer w;
    const uint8_t op = r.U8();
    std::string doing = op == kPrepareOp ? "preparing" : op == kOpenOp ? "loading the job" : "computing a tile";
    try {
      if (op == kPrepareOp || op == kOpenOp) {
        const std::string json = r.Str();
        const std::string scratch = op == kPrepareOp ? r.Str() : std::string();
        if (!r.good) return 1;
        auto spec = core::SpecFromJson(json);
        if (!spec.ok()) {
          PutStatus(w, spec.status());
        } else if (op == kPrepareOp) {
          auto files = factory.Prepare(*spec, scratch);
          PutStatus(w, NameTheBudget(files.status(), memory_bytes, doing));
          if (files.ok()) {
            w.Str(files->directions);
            w.Str(files->projection);
            w.Raw(static_cast<uint32_t>(files->attributes.size()));
            for (const auto& [k, v] : files->attributes) {
              w.Str(k);
              w.Str(v);
            }
          }
        } else {
          auto opened = factory.Open(*spec);
          PutStatus(w, NameTheBudget(opened.status(), memory_bytes, doing));
          if (opened.ok()) {
            evaluator = std::move(*opened);
            w.Str(evaluator->Description());
          }
        }
      } else if (op == kEvaluateOp) {
        core::Tile tile;
        tile.index = r.Raw<int64_t>();
        tile.begin = r.Raw<int64_t>();
        tile.end = r.Raw<int64_t>();
        if (!r.good) return 1;
        doing = "computing tile " + std::to_string(tile.index);
        if (!evaluator) {
          PutStatus(w, Status(StatusCode::kInternal, "no job loaded in the evaluation process"));
        } else {
          auto values = evaluator->Evaluate(tile, [] { return true; });
          PutStatus(w, NameTheBudget(values.status(), memory_bytes, doing));
          if (values.ok()) {
            w.Raw(static_cast<uint64_t>(values->size()));
            w.buf.append(reinterpret_cast<const char*>(values->data()), values->size() * sizeof(double));
          }
        }
      } else {
        return 1;
      }
    } catch (const std::bad_alloc&) {
      w.buf.clear();
      PutStatus(w, Status(StatusCode::kResourceExhausted, MemoryBudgetMessage(memory_bytes, doing)));
    }
    if (!SendFrame(fd, w.buf)) return 1;
  }
  return 0;
}

}  // namespace landscape::worker

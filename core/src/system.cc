#include "landscape/core/system.h"

#include <malloc.h>
#include <sched.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace landscape::core {

namespace {
// cgroup v2: "max 100000" or "200000 100000" (quota period) in cpu.max.
int CgroupQuotaCores() {
  std::ifstream f("/sys/fs/cgroup/cpu.max");
  std::string quota, period;
  if (!(f >> quota >> period) || quota == "max") return 0;
  const double q = std::atof(quota.c_str()), p = std::atof(period.c_str());
  if (q <= 0 || p <= 0) return 0;
  return std::max(1, static_cast<int>(std::ceil(q / p)));
}
}  // namespace

int CoresOwned() {
  int n = 0;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) n = CPU_COUNT(&set);
  if (n <= 0) n = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
  const int quota = CgroupQuotaCores();
  if (quota > 0 && quota < n) n = quota;
  return n > 0 ? n : 1;
}

void PrepareComputeProcess(char** argv) {
#ifdef __GLIBC__
  // Keep freed activation buffers in the heap: no mmap for large blocks, no trimming.
  mallopt(M_MMAP_MAX, 0);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  mallopt(M_TOP_PAD, 64 << 20);
#endif
  if (std::getenv("OMP_WAIT_POLICY") == nullptr && std::getenv("LANDSCAPE_NO_REEXEC") == nullptr && argv) {
    ::setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
    ::setenv("LANDSCAPE_NO_REEXEC", "1", 1);
    ::execv("/proc/self/exe", argv);
    // exec failed: carry on with the current settings.
  }
}

long PeakRssBytes() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmHWM:", 0) == 0) {
      std::istringstream is(line.substr(6));
      long kb = 0;
      is >> kb;
      return kb * 1024;
    }
  }
  return 0;
}

TempDir::TempDir(const std::string& prefix) {
  std::error_code ec;
  const auto base = std::filesystem::temp_directory_path(ec);
  if (ec) return;
  std::string tmpl = (base / (prefix + "-XXXXXX")).string();
  if (::mkdtemp(tmpl.data())) path_ = tmpl;
}

TempDir::~TempDir() {
  if (path_.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string TempDir::File(const std::string& name) const { return (std::filesystem::path(path_) / name).string(); }

}  // namespace landscape::core

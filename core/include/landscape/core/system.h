// Process-level facts and settings for compute-heavy processes.
#pragma once

#include <string>

namespace landscape::core {

/// CPU cores this process may use: the affinity mask, bounded by a cgroup v2
/// CPU quota (cpu.max) when one is set. At least 1.
int CoresOwned();

/// Settings that make a compute process behave on shared machines; call first
/// thing in main(), before any library starts threads:
///  - OpenMP waits passively (OMP_WAIT_POLICY=PASSIVE): spinning threads steal
///    cores from other workers. libgomp reads this only at load time, so if it
///    is unset the process re-executes itself once with it set;
///  - glibc keeps large freed buffers instead of returning them to the OS
///    (activations are re-allocated every batch; page faults otherwise dominate).
void PrepareComputeProcess(char** argv);

/// Peak resident set size of this process in bytes (VmHWM).
long PeakRssBytes();

/// A fresh directory under the system's temporary directory ("<prefix>-XXXXXX"), removed with
/// everything in it when the object goes. ok() is false when it could not be made.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "landscape");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  bool ok() const { return !path_.empty(); }
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const;

 private:
  std::string path_;
};

}  // namespace landscape::core

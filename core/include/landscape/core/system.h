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

}  // namespace landscape::core

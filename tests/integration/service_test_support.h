// What the service_test files share: a small CNN trained once per test process, the job flags of
// `landscape local` and `landscape submit`, the `local` reference surfaces, a bit-for-bit comparison of
// surface files, and the options of their clusters (tests/support/cluster.h).
#pragma once

#include <string>
#include <vector>

#include "cluster.h"

namespace landscape::service_test {

/// The test process's directory with the trained model (~2 s, once per process); removed at its exit.
const std::string& Workdir();
/// The trained CNN (TorchScript).
std::string Model();

/// The evaluation path pinned (docs/service.md, "Which tiles agree bit for bit"): each process would
/// otherwise measure its own fastest path, and a loaded machine may pick another one in each.
extern const std::vector<std::string> kPinnedPath;

/// The job flags shared by `local` and `submit`: 5 x 4 points of Model() on `samples` Fashion-MNIST
/// samples, tiles of `tile_size` points (the default when 0).
std::vector<std::string> SpecArgs(int samples, int tile_size);

/// The `landscape local` surface file of SpecArgs(samples, 0), computed once per sample count.
std::string LocalReference(int samples);

/// Every coordinate and every value of every metric equal, bit for bit.
void ExpectSameSurface(const std::string& expected_path, const std::string& actual_path);

/// The clusters of these tests: their own Redis (appendonly when `aof`), workers on the pinned path.
testing::ClusterOptions ServiceCluster(bool aof = false);

}  // namespace landscape::service_test

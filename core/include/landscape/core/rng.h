// Portable pseudo-random numbers: the same seed gives bit-identical values on
// every machine, compiler and device, because only IEEE-exact operations
// (+, -, *, /, sqrt) are used (rng.cc is compiled with -ffp-contract=off).
// LibTorch's generators are not used for anything that must be reproducible:
// their CPU normal sampler takes different code paths with and without AVX2.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace landscape::core {

/// xoshiro256** seeded through splitmix64.
class Rng {
 public:
  explicit Rng(uint64_t seed);
  /// An independent stream for (seed, a, b), e.g. (direction seed, axis, tensor index).
  static Rng Stream(uint64_t seed, uint64_t a, uint64_t b = 0);

  uint64_t NextU64();
  /// Uniform in [0, 1) with 53 random bits.
  double NextDouble();
  /// Uniform integer in [0, n), unbiased. n > 0.
  uint64_t Below(uint64_t n);
  /// Standard normal (Marsaglia's polar method).
  double NextGaussian();
  void FillGaussian(float* out, size_t n);

 private:
  uint64_t s_[4];
  bool has_spare_ = false;
  double spare_ = 0.0;
};

/// Natural logarithm of x > 0 from exact operations only (|error| < 2 ulp).
double PortableLog(double x);

/// k distinct indices from [0, n), chosen uniformly with `seed`, in increasing order.
std::vector<int64_t> SampleIndices(int64_t n, int64_t k, uint64_t seed);

/// A uniformly random permutation of [0, n).
std::vector<int64_t> Permutation(int64_t n, Rng& rng);

}  // namespace landscape::core

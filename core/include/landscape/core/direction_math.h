// The direction math of the paper's reference code (docs/design.md §1), on plain
// float arrays so that it is exact, portable and testable without LibTorch.
// All reductions accumulate in double in a fixed order: the same inputs give
// bit-identical directions on every machine.
#pragma once

#include <cstdint>
#include <vector>

#include "landscape/core/spec.h"

namespace landscape::core {

/// Applies the per-tensor rule to a direction `d` (in place) for parameter `theta`
/// of the same shape:
///  - dim <= 1: ignore=biasbn -> 0; ignore=none -> a copy of theta;
///  - dim >= 2: filter: every slice k along dim 0 scaled to ||theta[k]|| (factor
///    ||theta[k]|| / (||d[k]|| + 1e-10)); layer: the whole tensor scaled to ||theta||
///    (no epsilon); weight: d * theta; dfilter / dlayer: unit norm per filter /
///    tensor (epsilon 1e-10 per filter, none per layer); none: unchanged.
void NormalizeDirection(const std::vector<int64_t>& shape, const float* theta, float* d, Norm norm, Ignore ignore);

/// A random direction for tensor `index` of axis `axis` (0 = x, 1 = y): N(0, 1)
/// from the portable generator stream (seed, axis, index), then NormalizeDirection.
std::vector<float> RandomDirection(const std::vector<int64_t>& shape, const float* theta, uint64_t seed, int axis,
                                   int64_t index, Norm norm, Ignore ignore);

/// Cosine similarity of two directions given as lists of tensors (entries of
/// 0-D tensors are skipped, as the reference does). 0 when either is all zero.
double DirectionCosine(const std::vector<std::vector<float>>& a, const std::vector<std::vector<float>>& b,
                       const std::vector<std::vector<int64_t>>& shapes);

}  // namespace landscape::core

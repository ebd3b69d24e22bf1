// Models and comparisons shared by the engine's unit tests.
#pragma once

#include <gtest/gtest.h>
#include <torch/script.h>

#include <algorithm>
#include <vector>

#include "zoo.h"

namespace landscape::engine::testing_models {

/// The largest difference relative to the reference's largest magnitude (`got` compared in float32).
inline double RelDiff(const at::Tensor& got, const at::Tensor& ref) {
  return (got.to(at::kFloat) - ref).abs().max().item<double>() / std::max(1e-12, ref.abs().max().item<double>());
}

/// A zoo ResNet-20 for 1×side×side inputs whose BatchNorm statistics are not the identity (a few batches
/// in train mode), in eval mode. Empty (and a test failure) when the zoo cannot build it.
inline torch::jit::Module TrainedLookingResNet20(int64_t side, int64_t seed) {
  auto built = BuildArchitecture("resnet20", {1, side, side}, 10, seed);
  if (!built.ok()) {
    ADD_FAILURE() << built.status().ToString();
    return torch::jit::Module();
  }
  torch::jit::Module m = *built;
  m.train();
  {
    at::NoGradGuard g;
    for (int i = 0; i < 3; ++i) m.forward({at::randn({16, 1, side, side}) * 2 + 0.5});
  }
  m.eval();
  return m;
}

}  // namespace landscape::engine::testing_models

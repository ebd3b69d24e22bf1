// Built-in architectures, built directly as TorchScript modules (no Python):
// the same format users export with torch.jit.save, so trained models flow
// through every later step like user models. Initialization follows the
// reference's cifar10/main.py: Kaiming-normal (fan_in) convolutions, BatchNorm
// γ = 1 and β = 0, classifier weights N(0, 1e-3²), zero biases; hidden Linear
// layers of the MLP use Kaiming-normal. Random numbers come from the portable
// generator, so a seed gives the same initial model everywhere.
#pragma once

#include <torch/script.h>

#include <string>
#include <vector>

#include "landscape/core/status.h"

namespace landscape::engine {

struct ArchitectureInfo {
  std::string name;
  std::string description;
};

/// Every built-in architecture name with a one-line description.
std::vector<ArchitectureInfo> Architectures();

/// Builds `name` for inputs of shape [C, H, W] and `classes` outputs, in train mode.
core::Result<torch::jit::Module> BuildArchitecture(const std::string& name, const std::vector<int64_t>& input_shape,
                                                   int64_t classes, uint64_t seed);

}  // namespace landscape::engine

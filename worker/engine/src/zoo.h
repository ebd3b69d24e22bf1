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
#include <utility>
#include <vector>

#include "landscape/core/status.h"

namespace landscape::engine {

/// Builds `name` for inputs of shape [C, H, W] and `classes` outputs, in train mode.
core::Result<torch::jit::Module> BuildArchitecture(const std::string& name, const std::vector<int64_t>& input_shape,
                                                   int64_t classes, uint64_t seed);

/// `name` built for inputs `input_shape`, with as many outputs as the state dict `state` has for
/// its classifier: the architecture a state dict of it applies onto (parameters initialized with seed 0).
core::Result<torch::jit::Module> BuildArchitectureFor(const std::string& name, const std::vector<int64_t>& input_shape,
                                                      const std::vector<std::pair<std::string, at::Tensor>>& state);

/// The name the reference's own model classes (tomgoldstein/loss-landscape cifar10/models:
/// ResNet_cifar, WResNet_cifar, VGG, DenseNet) give the tensor a built-in architecture calls
/// `ours`, so that their checkpoints apply onto ours: stage children "layer1.b0." are
/// "layer1.0.", projection shortcuts "shortcut.conv."/"shortcut.bn." are "shortcut.0."/
/// "shortcut.1.", VGG-9's "features.conv2."/"features.bn2." are the Sequential's indices
/// "features.7."/"features.8.", its "fc." and "fc_bn." are "fc.0." and "fc.1.". Other names
/// come back unchanged (the two namings agree on them).
std::string ReferenceZooName(const std::string& ours);

}  // namespace landscape::engine

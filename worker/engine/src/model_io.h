// Loading models (TorchScript archives and state-dict checkpoints) and listing
// their tensors in the reference's order.
#pragma once

#include <torch/script.h>

#include <string>
#include <utility>
#include <vector>

#include "landscape/core/spec.h"
#include "landscape/core/status.h"

namespace landscape::engine {

struct NamedTensor {
  std::string name;
  at::Tensor tensor;  // aliases the module's own storage
  bool is_parameter = false;
};

/// θ as the reference lists it: `weights` = named_parameters() order; `states` =
/// state_dict() order (per module: its parameters, its buffers, then its children).
/// Shared tensors are listed once (first occurrence).
std::vector<NamedTensor> CollectTensors(const torch::jit::Module& module, core::DirType type);

/// The first line of an exception's message (LibTorch appends long backtraces).
std::string FirstLine(const std::exception& e);

enum class ModelFileKind { kTorchScript, kStateDict };
core::Result<ModelFileKind> DetectModelFile(const std::string& path);

/// A TorchScript archive on the CPU, in eval mode.
core::Result<torch::jit::Module> LoadTorchScript(const std::string& path);

/// A state dict from a torch.save file: a bare dict of tensors, or a checkpoint
/// dict holding one under "state_dict", "model_state_dict", "model" or "net".
/// A DataParallel "module." prefix is removed.
core::Result<std::vector<std::pair<std::string, at::Tensor>>> LoadStateDict(const std::string& path);

/// Copies every parameter and buffer of `module` from `state` (strict: names and
/// shapes must match, nothing may be missing or left over).
core::Status ApplyStateDict(torch::jit::Module& module, const std::vector<std::pair<std::string, at::Tensor>>& state,
                            const std::string& what);

/// Loads `path` as a model: a TorchScript archive as is, or a state dict applied
/// onto a deep copy of `arch` (which must then be given).
core::Result<torch::jit::Module> LoadModel(const std::string& path, const torch::jit::Module* arch,
                                           const std::string& what);

}  // namespace landscape::engine

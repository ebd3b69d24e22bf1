// The first layer's linearity in its weights, used to skip most of its work.
//
// When a model's first weighted layer is linear or a convolution applied to the
// input (after weight-free reshaping), its output at θ0 + α·dx + β·dy is
//   layer(x; W0 + α·Wx + β·Wy, b0 + α·bx + β·by)
//     = layer(x; W0, b0) + α·layer(x; Wx, bx) + β·layer(x; Wy, by),
// so the three terms can be computed once per data set and each grid point
// costs one fused axpy instead of the layer (for an MLP on 28×28 images, three
// quarters of the multiply-adds). The values agree with the full forward pass
// to float32 rounding (the terms are summed in another order).
//
// SplitAtFirstLayer cuts a TorchScript module's forward graph at that layer:
// the head computes the layer's output from the input with the module's current
// weights; the tail computes the model's output from the layer's output.
#pragma once

#include <torch/script.h>

#include <memory>
#include <string>

#include "landscape/core/status.h"

namespace torch::jit {
struct GraphFunction;
}

namespace landscape::engine {

struct FirstLayerSplit {
  std::shared_ptr<torch::jit::GraphFunction> head;  // (self, x) -> the first layer's output
  std::shared_ptr<torch::jit::GraphFunction> tail;  // (self, h) -> the model's output
  std::string layer;                                // e.g. "fc1 (aten::linear)"
  at::Tensor weight, bias;                          // the layer's tensors (bias undefined if none)
};

/// Splits `module.forward` at its first weighted layer, or says why it cannot:
/// forward must take one tensor; the layer (aten::linear, conv1d/2d/3d) must
/// read the input only through weight-free operations, its weight and bias must
/// be attributes of the module, and nothing after it may read the input.
core::Result<FirstLayerSplit> SplitAtFirstLayer(const torch::jit::Module& module);

/// Runs a head or tail on the module's object and one tensor.
at::Tensor RunPart(torch::jit::GraphFunction& part, const torch::jit::Module& module, const at::Tensor& input);

}  // namespace landscape::engine

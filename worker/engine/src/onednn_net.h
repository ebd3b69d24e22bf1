// OnednnNet: a frozen model's forward graph on oneDNN primitives of our own (CPU, float32 or bfloat16).
//
// LibTorch 1.13 runs every convolution of a frozen graph as a oneDNN *direct* convolution, and every ReLU
// and residual addition as an operation of its own. Built from the same frozen graph (BatchNorm already
// folded into the convolutions), OnednnNet runs:
//  - 3×3 stride-1 convolutions with multiples of 16 channels in and out as Winograd F(4×4, 3×3)
//    convolutions (1.1–1.5× oneDNN's direct ones on ResNet-20's shapes: bench/landscape-bench-conv),
//    the other convolutions direct;
//  - a ReLU, or a residual addition (then a ReLU), as post-ops of the convolution before it, writing in
//    place into the residual's buffer when the addition is the residual's last use;
//  - max-pooling as oneDNN pooling;
//  - activations in oneDNN's blocked layout (nChw16c) from the first convolution's output on.
// It takes the graph from its first node up to the first node it cannot take (anything but a
// convolution with constant weights, the ReLUs and additions it fuses, max-pooling); the rest of the graph
// (pooling, flatten, linear layers, ...) runs node by node through LibTorch's own operators on dense
// tensors. Values differ from LibTorch's by Winograd's rounding (≈ 1e-6 of a layer's output).
//
// Lifecycle: Create compiles once per job, for the batch sizes the job uses; per grid point SetWeights
// loads the weights of the same model frozen at that point (the graph's structure must not change);
// Forward runs one batch. Forward may run concurrently on different lanes (each lane has its own
// buffers and oneDNN stream; the primitives are shared, their scratchpads are per lane).
//
// Built only with oneDNN's headers (libdnnl-dev, the library LibTorch links); without them Create says so.
#pragma once

#include <torch/script.h>

#include <memory>
#include <string>
#include <vector>

#include "landscape/core/status.h"

namespace landscape::engine {

class OnednnNet {
 public:
  struct Options {
    bool winograd = true;  // Winograd where oneDNN has it (else direct convolutions only)
    size_t lanes = 1;      // concurrent Forward calls (lane indices 0..lanes-1)
    /// > 0: keep Winograd only for the layers where it measures faster than direct in a pass through the
    /// model with this many OpenMP threads per Forward (1 for lanes); 0: wherever oneDNN has it.
    int tune_threads = 0;
    /// Refuse (Unimplemented) models whose graph has convolutions after the first node the primitives
    /// cannot take: those would run unfused, node by node, slower than LibTorch's frozen graph.
    bool require_all_convolutions = false;
    /// The convolutions run on chunks of a batch whose largest activation (per chunk) stays within this
    /// many bytes, so that it stays in a core's caches whatever the batch size (0: whole batches). The
    /// values do not depend on it; only the batch's tail (pooling, linear layers) sees whole batches.
    int64_t max_activation_bytes = int64_t{2} << 20;
    /// The graph's dtype: float32, or bfloat16 (direct convolutions only: oneDNN's Winograd is float32).
    at::ScalarType dtype = at::kFloat;
  };

  /// Compiles `graph` (a frozen forward graph: (self, x) -> output, weights as constants) for inputs of
  /// shape [B, sample_shape...] for each B in `batch_sizes`. Unimplemented, with the reason, when the graph
  /// does not start with a convolution it can take or uses `self`; Internal when oneDNN refuses.
  static core::Result<std::unique_ptr<OnednnNet>> Create(const std::shared_ptr<torch::jit::Graph>& graph,
                                                         at::IntArrayRef sample_shape,
                                                         const std::vector<int64_t>& batch_sizes,
                                                         const Options& options);
  ~OnednnNet();
  OnednnNet(const OnednnNet&) = delete;
  OnednnNet& operator=(const OnednnNet&) = delete;

  /// Loads the weights (and the tail's constants) of `graph`: the model Create saw, frozen at another point.
  core::Status SetWeights(const std::shared_ptr<torch::jit::Graph>& graph);

  /// The model's output for `x` ([B, sample_shape...], float32 on the CPU, B one of Create's batch sizes).
  at::Tensor Forward(const at::Tensor& x, size_t lane);

  /// What runs where: "21 convolutions (8 Winograd) and 0 max-poolings, with 19 ReLUs and 9 residual additions
  /// fused, then 2 operations in LibTorch".
  std::string Description() const;

  struct Impl;

 private:
  explicit OnednnNet(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace landscape::engine

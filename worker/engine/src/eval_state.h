// EvalState: what every forward path of the point evaluator reads (the "model state", set up once by
// PointEvaluator::Create and shared, read-mostly, by the paths in forward_path.h): the module, its
// reduced-precision copy, the point's weights, the data as batches, the loss and the device.
//
// Invariants: `module`'s tensors alias `weights`' flat buffers (PointWeights::Set moves every path's
// weights at once); `reduced` is defined only when dtype is not float32, and its tensors (`targets`)
// hold the float32 weights (`sources`) as of the last RefreshReduced; `batches` are views of `inputs`
// and the labels, `batch_size` samples each (the last may be smaller).
#pragma once

#include <torch/script.h>

#include <memory>
#include <utility>
#include <vector>

#include "datasets.h"
#include "lane_pool.h"
#include "landscape/core/spec.h"
#include "point_weights.h"

namespace landscape::engine {

/// One data split a point is evaluated on.
struct EvalSplit {
  Dataset data;  // on the device
  bool train = true;
};

struct EvalState {
  torch::jit::Module module;                   // float32, eval mode; weights in `weights`' buffers
  torch::jit::Module reduced;                  // reduced precision: the module in dtype
  std::vector<at::Tensor> sources, targets;    // module's and reduced's tensors, in state-dict order
  PointWeights weights;                        // the point's weights, in the tensors of module
  std::vector<EvalSplit> splits;
  std::vector<at::Tensor> inputs;              // per split: the images as the forward pass takes them
  std::vector<std::vector<std::pair<at::Tensor, at::Tensor>>> batches;  // per split: (x, y) views
  core::Loss loss = core::Loss::kCrossEntropy;
  c10::Device device = c10::Device(c10::kCPU);
  at::ScalarType dtype = at::kFloat;
  bool channels_last = false;
  bool two_d = false;
  int threads = 1;  // intra-op threads of the process
  int64_t batch_size = 128;

  /// Cuts every split's inputs into batches of batch_size.
  void MakeBatches();
  /// Batches over all splits.
  int64_t BatchCount() const;
  /// Copies the point's float32 weights into the reduced-precision copy (no-op in float32).
  void RefreshReduced();
  /// The model at the point the weights hold, in the compute dtype, frozen (weights as constants,
  /// BatchNorm folded), not optimized: what the engine's own primitives load.
  torch::jit::Module FrozenPoint();
  /// Whether forward passes run with the graph executor's specializing optimizations (reduced precision
  /// runs without them: LibTorch 1.13 mis-plans bfloat16 Linear layers with them).
  bool GraphOptimize() const;
};

/// Adds one batch's summed loss and correct count (model output `out`, targets `y`) to the device
/// accumulators (loss_sum: double, correct: int64); reduced-precision outputs are taken in float32.
void AccumulateBatch(const at::Tensor& out, const at::Tensor& y, core::Loss loss, at::Tensor& loss_sum,
                     at::Tensor& correct);

/// The lanes' threads, started at their first use and kept while the lane count stays the same.
class LaneSlot {
 public:
  LanePool& Get(size_t lanes, int threads);
  void Reset() { pool_.reset(); }

 private:
  std::unique_ptr<LanePool> pool_;
};

}  // namespace landscape::engine

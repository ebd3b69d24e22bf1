// PointEvaluator: sets θ + α·dx + β·dy in place and evaluates loss and accuracy.
//
// Its parts, each in a file of its own:
// - the model state every path reads (eval_state.h): the module, its reduced-precision copy, the point's
//   weights (point_weights.h: flat buffers the model's tensors alias, set per point), the data as batches;
// - the forward paths behind one interface (forward_path.h), one file each: the module as loaded
//   (path_module.cc), a frozen, optimized graph per point (path_frozen.cc), the engine's own oneDNN
//   primitives (path_onednn.cc, onednn_net.h), the cached first layer (path_first_layer.cc,
//   first_layer.h), one fitted frozen graph with CUDA graphs (path_fitted_graph.cc, frozen_basis.h,
//   cuda_graph.h);
// - the selector (path_selector.h), which measures the candidates in a fixed order (each sees the path
//   chosen before it) and returns the chosen path, the batch size, the lanes (batch_choice.cc,
//   lane_pool.h) and one description of its choice (PathChoice);
// - this file's Create, which sets up the state and runs the selector, and Evaluate, which runs a
//   point's batches on the chosen path.
// Evaluation runs in eval mode under InferenceMode over batches that are views
// of contiguous, device-resident data; sums accumulate on the device and are
// read once per split.
#pragma once

#include <torch/script.h>

#include <memory>
#include <optional>
#include <vector>

#include "datasets.h"
#include "eval_state.h"
#include "landscape/core/spec.h"
#include "landscape/engine/engine.h"
#include "landscape/io/hdf5_files.h"
#include "model_io.h"

namespace landscape::engine {

/// A contiguous CPU copy of `t` as a host array (float32 unless the tensor is an integer type: int64).
io::HostArray ToHost(const at::Tensor& t);

/// Stores every 4-D parameter and buffer of `module` (convolution weights) channels-last, in place: the
/// module's tensors keep their identity, only their strides change.
void WeightsToChannelsLast(torch::jit::Module& module);

/// Mean loss and accuracy (%) of `module` as it is, on `data` (eval mode, no gradients).
core::Result<std::pair<double, double>> EvaluateModule(torch::jit::Module& module, const Dataset& data,
                                                       core::Loss loss, int64_t batch_size);

/// How points are evaluated (speed only: the values agree to the precision's rounding).
struct EvalOptions {
  int64_t batch_size = 128;
  /// A frozen, optimized copy of the model per point (BatchNorm folded, oneDNN
  /// prepacked weights and fused activations on CPU).
  bool optimize = true;
  /// The forward pass's dtype: float32, or bfloat16/float16 (the loss is still
  /// computed in float32 from the logits; weights are set in float32 first).
  at::ScalarType dtype = at::kFloat;
  bool channels_last = false;  // NHWC activations (faster convolutions on GPUs)
  /// Choose the batch size with the best measured throughput: powers of two from
  /// 16 to 1024 on CPUs, from 256 up to the data size (stopping at out-of-memory)
  /// on GPUs. The values agree to float32 rounding whatever the batch.
  bool auto_batch = false;
  /// kAuto: when measured faster; kOn: whenever possible; kOff: never.
  enum class Choice { kAuto, kOn, kOff };
  /// The first layer's output for θ0, dx and dy computed once (first_layer.h), so
  /// that a point costs one axpy instead of the first layer (float32 only).
  Choice first_layer = Choice::kAuto;
  /// CPU: split a point's batches over one single-threaded lane per intra-op
  /// thread instead of splitting each operator over the threads.
  Choice data_parallel = Choice::kAuto;
  /// CPU, float32 or bfloat16, on frozen graphs: run the model's convolutions on oneDNN primitives of the
  /// engine's own (onednn_net.h: Winograd convolutions in float32, ReLUs and residual additions fused)
  /// instead of LibTorch's. Values differ by Winograd's rounding (checked at set-up: within 1e-4 of the
  /// outputs' scale in float32, 3e-2 in bfloat16).
  /// kAuto also keeps Winograd only for the layers where it measures faster; kOn uses it wherever
  /// oneDNN has it.
  Choice onednn = Choice::kAuto;
  int64_t first_layer_max_bytes = int64_t{1} << 30;  // the cache's largest size
  /// CUDA, on frozen graphs: one frozen graph for every point, its constants set per point from a
  /// quadratic fit instead of freezing again (frozen_basis.h), and each split's batches replayed as one
  /// captured CUDA graph (cuda_graph.h) instead of ~170 kernel launches per batch. Values agree with
  /// per-point freezing to float32 rounding (checked at set-up). kAuto: on CUDA devices when the fit
  /// holds; kOn: also on CPUs (the fitted constants only: no graphs there); kOff: freeze per point.
  Choice cuda_graphs = Choice::kAuto;
};

/// What the selector chose (path_selector.h): the path, the batch size, the lanes, and a note per choice.
struct PathChoice {
  std::string path;  // the chosen path's name (forward_path.h)
  /// Whether points run on frozen graphs (per point or one fitted graph), as the module allows.
  bool optimized = true;
  std::string optimize_failure;  // why freezing is off, if it is ("off: ..." when measured or ruled out)
  bool first_layer_cached = false;
  std::string first_layer_note;  // what the cache holds, or why it is not used ("off: ...")
  bool onednn = false;
  std::string onednn_note;  // what runs on the primitives, or why they are not used ("off: ...")
  bool constants_fitted = false;
  bool cuda_graphs = false;
  std::string cuda_graphs_note;  // what the fitted graph and the CUDA graphs are, or why not ("off: ...")
  int64_t batch_size = 0;
  int lanes = 1;  // lanes a point's batches are split over (1: each operator uses the threads)
};

class ForwardPath;

class PointEvaluator {
 public:
  using Split = EvalSplit;

  /// `module` must already be on `device`. `dirs` has one array per tensor of
  /// `type` in CollectTensors order (y only for 2-D).
  /// With `optimize`, each point's loss and accuracy come from a frozen copy of
  /// the module with that point's weights baked in and eval-time optimizations
  /// applied (BatchNorm folded into convolutions, oneDNN prepacked weights and
  /// fused activations: torch::jit::freeze + optimize_for_inference); the copy is
  /// rebuilt per point (milliseconds). Falls back to the module itself when a
  /// model cannot be frozen. The other paths are chosen as path_selector.h says.
  static core::Result<std::unique_ptr<PointEvaluator>> Create(torch::jit::Module module, core::DirType type,
                                                               const io::DirectionSet& dirs, std::vector<Split> splits,
                                                               core::Loss loss, const c10::Device& device,
                                                               const EvalOptions& options);
  ~PointEvaluator();

  /// Sets the weights for (alpha, beta); beta is ignored for 1-D directions.
  void SetPoint(double alpha, double beta);
  /// SetPoint, then loss and accuracy on every split.
  core::Result<PointValues> Evaluate(double alpha, double beta);

  torch::jit::Module& module() { return state_.module; }
  const std::vector<Split>& splits() const { return state_.splits; }
  int64_t parameter_count() const { return state_.weights.parameter_count(); }
  /// The selector's choice, with a note per choice.
  const PathChoice& choice() const { return choice_; }
  /// Whether points are evaluated on frozen, optimized graphs.
  bool optimized() const { return choice_.optimized; }
  const std::string& optimize_failure() const { return choice_.optimize_failure; }
  int64_t batch_size() const { return state_.batch_size; }
  /// Whether the first layer's output is cached (then points run the model's tail).
  bool first_layer_cached() const { return choice_.first_layer_cached; }
  /// Lanes a point's batches are split over (1: each operator uses the threads).
  int data_parallel_lanes() const { return choice_.lanes; }
  /// What the cache holds ("fc1 (aten::linear), 61 MiB") or why it is not used ("off: ...").
  const std::string& first_layer_note() const { return choice_.first_layer_note; }
  /// Whether points run on the engine's own oneDNN primitives.
  bool onednn() const { return choice_.onednn; }
  /// What runs on them ("21 convolutions (15 Winograd) ...") or why they are not used ("off: ...").
  const std::string& onednn_note() const { return choice_.onednn_note; }
  /// Whether points set the constants of one fitted frozen graph instead of freezing (frozen_basis.h).
  bool constants_fitted() const { return choice_.constants_fitted; }
  /// Whether each split's batches replay as a captured CUDA graph.
  bool cuda_graphs() const { return choice_.cuda_graphs; }
  /// What the fitted graph and the CUDA graphs are, or why they are not used ("off: ...").
  const std::string& cuda_graphs_note() const { return choice_.cuda_graphs_note; }

 private:
  PointEvaluator() = default;

  // Declared in this order: the path (which refers to the state) and the lanes go before the state.
  EvalState state_;
  PathChoice choice_;
  LaneSlot lanes_;
  std::unique_ptr<ForwardPath> path_;
};

}  // namespace landscape::engine

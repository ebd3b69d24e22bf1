// PointEvaluator: sets θ + α·dx + β·dy in place and evaluates loss and accuracy.
//
// Its parts, each in a file of its own:
// - the point's weights (point_weights.h): flat buffers the model's tensors alias, set per point;
// - the forward paths a point can run on, each with the measured choice that turns it on:
//   the module as loaded or a frozen, optimized graph per point (path_frozen.cc), the engine's own oneDNN
//   primitives (path_onednn.cc, onednn_net.h), the cached first layer (path_first_layer.cc,
//   first_layer.h), one fitted frozen graph with CUDA graphs (path_fitted_graph.cc, frozen_basis.h,
//   cuda_graph.h); all give a BatchForward (a batch's output; PointForward picks the point's);
// - the batch size and the lanes (batch_choice.cc, lane_pool.h);
// - this file's Create, which runs the choices in order (each sees the path chosen before it), and
//   Evaluate, which runs a point's batches on the chosen path.
// Evaluation runs in eval mode under InferenceMode over batches that are views
// of contiguous, device-resident data; sums accumulate on the device and are
// read once per split.
#pragma once

#include <torch/script.h>

#include <array>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "datasets.h"
#include "cuda_graph.h"
#include "first_layer.h"
#include "frozen_basis.h"
#include "lane_pool.h"
#include "landscape/core/spec.h"
#include "landscape/engine/engine.h"
#include "landscape/io/hdf5_files.h"
#include "model_io.h"
#include "onednn_net.h"
#include "point_weights.h"

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

class PointEvaluator {
 public:
  struct Split {
    Dataset data;  // on the device
    bool train = true;
  };

  /// `module` must already be on `device`. `dirs` has one array per tensor of
  /// `type` in CollectTensors order (y only for 2-D).
  /// With `optimize`, each point's loss and accuracy come from a frozen copy of
  /// the module with that point's weights baked in and eval-time optimizations
  /// applied (BatchNorm folded into convolutions, oneDNN prepacked weights and
  /// fused activations: torch::jit::freeze + optimize_for_inference); the copy is
  /// rebuilt per point (milliseconds). Falls back to the module itself when a
  /// model cannot be frozen.
  static core::Result<std::unique_ptr<PointEvaluator>> Create(torch::jit::Module module, core::DirType type,
                                                               const io::DirectionSet& dirs, std::vector<Split> splits,
                                                               core::Loss loss, const c10::Device& device,
                                                               const EvalOptions& options);

  /// A batch's model output on a point's path; `lane` picks the buffers of concurrent callers.
  using BatchForward = std::function<at::Tensor(const at::Tensor& x, size_t lane)>;

  /// Sets the weights for (alpha, beta); beta is ignored for 1-D directions.
  void SetPoint(double alpha, double beta);
  /// SetPoint, then loss and accuracy on every split.
  core::Result<PointValues> Evaluate(double alpha, double beta);

  torch::jit::Module& module() { return module_; }
  const std::vector<Split>& splits() const { return splits_; }
  int64_t parameter_count() const { return weights_.parameter_count(); }
  /// Whether points are evaluated on frozen, optimized graphs.
  bool optimized() const { return optimize_; }
  const std::string& optimize_failure() const { return optimize_failure_; }
  int64_t batch_size() const { return batch_size_; }
  /// Whether the first layer's output is cached (then points run the model's tail).
  bool first_layer_cached() const { return cache_ != nullptr; }
  /// Lanes a point's batches are split over (1: each operator uses the threads).
  int data_parallel_lanes() const { return data_parallel_; }
  /// What the cache holds ("fc1 (aten::linear), 61 MiB") or why it is not used ("off: ...").
  const std::string& first_layer_note() const { return first_layer_note_; }
  /// Whether points run on the engine's own oneDNN primitives.
  bool onednn() const { return onednn_ != nullptr; }
  /// What runs on them ("21 convolutions (15 Winograd) ...") or why they are not used ("off: ...").
  const std::string& onednn_note() const { return onednn_note_; }
  /// Whether points set the constants of one fitted frozen graph instead of freezing (frozen_basis.h).
  bool constants_fitted() const { return basis_ != nullptr; }
  /// Whether each split's batches replay as a captured CUDA graph.
  bool cuda_graphs() const { return !captured_.empty(); }
  /// What the fitted graph and the CUDA graphs are, or why they are not used ("off: ...").
  const std::string& cuda_graphs_note() const { return graphs_note_; }

 private:
  PointEvaluator() = default;
  void MakeBatches();
  // Turns per-point freezing off when it costs more than it saves (measured).
  void DecideOptimization();
  // The batch size with the shortest measured point; on CPUs with several threads
  // (data_parallel not kOff) also whether lanes were faster at it (lanes_measured_).
  int64_t ChooseBatchSize(EvalOptions::Choice data_parallel);
  // The lanes' threads, started at their first use.
  LanePool& Lanes(size_t lanes);
  // Builds the first-layer cache when options allow and (kAuto) it is measured faster.
  void DecideFirstLayer(const EvalOptions& options);
  // Compiles the model onto the engine's own oneDNN primitives when options allow and (kAuto) they are
  // measured faster than the path chosen so far.
  void DecideOnednn(const EvalOptions& options);
  // Fits one frozen graph's constants to the point and captures each split as a CUDA graph over it, when
  // options allow and the values agree with per-point freezing.
  void DecideCudaGraphs(const EvalOptions& options);
  // The fitted frozen graph, checked against a float32 freeze at its check point (`note`: what it is);
  // an error's message says why it is not used.
  core::Result<std::unique_ptr<FrozenBasis>> FitConstants(bool graph_optimize, std::string& note);
  // Captures each split's batches over basis_ as a CUDA graph (captured_, when a replay agrees with a
  // direct run); returns the note's tail saying what happened.
  std::string CaptureSplits(bool graph_optimize);
  // Chooses between lanes and intra-op threads (kAuto: the faster on a few batches).
  void DecideDataParallel(EvalOptions::Choice choice);
  // The model at the point SetPoint last set, in the compute dtype, frozen (weights as constants, BatchNorm
  // folded): what the engine's own primitives load.
  torch::jit::Module FrozenPoint();
  // The forward pass for the point SetPoint last set: the oneDNN primitives loaded with its weights, or
  // the module ForwardModule() returns.
  BatchForward PointForward();
  // Split s's loss and correct count over `lanes` single-threaded lanes, batches [0, end).
  void AccumulateInLanes(const BatchForward& forward, size_t s, size_t end, size_t lanes, double alpha, double beta,
                         at::Tensor& loss_sum, at::Tensor& correct);

  // The first layer's output over every batch of every split, with the flat
  // buffers set to `term` (θ0, dx or dy); θ0 is restored after.
  std::vector<at::Tensor> HeadOutputs(const FirstLayerSplit& split, PointWeights::Term term);

  // The module that forward passes run on for the current point: module_ itself,
  // or a frozen, optimized copy of it.
  torch::jit::Module& ForwardModule();
  // Adds the loss and correct count of split s's batches first, first + stride, ... below end (on `lane`).
  void AccumulateBatches(const BatchForward& forward, size_t lane, size_t s, size_t first, size_t end, size_t stride,
                         double alpha, double beta, at::Tensor& loss_sum, at::Tensor& correct);

  torch::jit::Module module_;
  torch::jit::Module frozen_;
  bool optimize_ = true;
  std::string optimize_failure_;  // why optimization was turned off, if it was
  at::ScalarType dtype_ = at::kFloat;
  bool channels_last_ = false;
  torch::jit::Module reduced_;                 // reduced precision: the module in dtype_
  std::vector<at::Tensor> sources_, targets_;  // module_'s and reduced_'s tensors, in state-dict order
  PointWeights weights_;  // the point's weights, in the tensors of module_
  std::vector<Split> splits_;
  std::vector<at::Tensor> inputs_;  // per split: the images as the forward pass takes them
  std::vector<std::vector<std::pair<at::Tensor, at::Tensor>>> batches_;  // per split
  core::Loss loss_ = core::Loss::kCrossEntropy;
  c10::Device device_ = c10::Device(c10::kCPU);
  int64_t batch_size_ = 128;
  bool two_d_ = false;
  int threads_ = 1;         // intra-op threads of the process
  int data_parallel_ = 1;   // lanes a point's batches are split over (1: operators use the threads)
  std::unique_ptr<LanePool> lane_pool_;  // the lanes' threads, started at their first use
  // Auto batch: whether lanes (true) or operators on all threads were faster at the
  // chosen batch; reset when a later choice changes the path points take.
  std::optional<bool> lanes_measured_;
  double batch_seconds_ = 0;  // measured time of one batch on the chosen path (0: not measured)

  struct FirstLayerCache {
    FirstLayerSplit split;
    // Per split, per batch: the layer's output for θ0, dx, dy (dy undefined for 1-D).
    std::vector<std::vector<std::array<at::Tensor, 3>>> terms;
    std::vector<int64_t> batch_shape;  // the layer's output for a full batch (each lane allocates one)
  };
  std::unique_ptr<FirstLayerCache> cache_;
  std::string first_layer_note_;
  std::unique_ptr<OnednnNet> onednn_;  // points run on it when set
  std::string onednn_note_;
  std::unique_ptr<FrozenBasis> basis_;  // points run on its module, constants set by SetPoint, when set
  std::string graphs_note_;
  // Per split: the captured work's accumulators, and the work (declared last: destroyed before the
  // tensors its kernels use).
  std::vector<at::Tensor> graph_loss_, graph_correct_;
  std::vector<std::unique_ptr<CapturedWork>> captured_;
};

/// A batch's output through `module`'s forward method (lane ignored); the module must outlive it.
PointEvaluator::BatchForward OnModule(torch::jit::Module& module);
/// A batch's output through the engine's own primitives, on the lane's buffers.
PointEvaluator::BatchForward OnNet(OnednnNet* net);

}  // namespace landscape::engine

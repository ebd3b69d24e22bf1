// ForwardPath: one way a point's batches run through the model (the "instance" beside EvalState's
// "model state"). The paths, one file each:
//   "module"       path_module.cc       the module as loaded (or its reduced-precision copy)
//   "frozen"       path_frozen.cc       a frozen, optimized copy of it per point
//   "onednn"       path_onednn.cc       the engine's own oneDNN primitives (onednn_net.h), loaded per point
//   "first_layer"  path_first_layer.cc  the first layer's output cached for θ0, dx, dy, then the tail
//   "fitted"       path_fitted_graph.cc one frozen graph with constants fitted to the point (frozen_basis.h),
//   "cuda_graphs"                       and on CUDA each split replayed as a captured CUDA graph
// The selector (path_selector.h) builds the candidates, measures them and keeps one.
//
// A point runs as: EvalState::weights.Set(α, β); SetPoint(α, β); PreparePoint(); then, per split,
// ReplaySplit, or AccumulateBatches over the split's batches (from several lanes at once: concurrent
// calls with distinct `lane`s must be safe; SetPoint/PreparePoint are not called concurrently).
#pragma once

#include <torch/script.h>

#include <optional>
#include <string>

#include "eval_state.h"

namespace landscape::engine {

class ForwardPath {
 public:
  explicit ForwardPath(EvalState& state) : state_(state) {}
  virtual ~ForwardPath() = default;
  ForwardPath(const ForwardPath&) = delete;
  ForwardPath& operator=(const ForwardPath&) = delete;

  /// The path's name ("module", "frozen", "onednn", "first_layer", "fitted", "cuda_graphs").
  virtual std::string name() const = 0;
  /// Per-point work that follows the flat weights at once (fitted constants); cheap.
  virtual void SetPoint(double /*alpha*/, double /*beta*/) {}
  /// Per-point work before the point's batches (freezing, loading primitives), after SetPoint.
  virtual void PreparePoint() {}
  /// Adds the loss and correct count of split s's batches first, first + stride, ... below end, on
  /// `lane`'s buffers, at the point prepared (alpha, beta: that point, for paths that combine terms).
  virtual void AccumulateBatches(size_t lane, size_t s, size_t first, size_t end, size_t stride, double alpha,
                                 double beta, at::Tensor& loss_sum, at::Tensor& correct) = 0;
  /// Whole-split work replayed at once (CUDA graphs): sets the split's sums and returns true, or false
  /// when the split runs batch by batch.
  virtual bool ReplaySplit(size_t /*s*/, at::Tensor& /*loss_sum*/, at::Tensor& /*correct*/) { return false; }

 protected:
  EvalState& state_;
};

/// A path that maps one batch to the model's output; AccumulateBatches runs Forward per batch.
class BatchForwardPath : public ForwardPath {
 public:
  using ForwardPath::ForwardPath;
  /// A batch's model output at the point prepared; `lane` picks the buffers of concurrent callers.
  virtual at::Tensor Forward(const at::Tensor& x, size_t lane) = 0;
  void AccumulateBatches(size_t lane, size_t s, size_t first, size_t end, size_t stride, double alpha, double beta,
                         at::Tensor& loss_sum, at::Tensor& correct) override;
};

/// Split s's batches [0, end) spread over `lanes` single-threaded lanes of `pool` (lane l takes batches l,
/// l + lanes, ...), each lane with its own accumulators, added to loss_sum and correct at the end.
void AccumulateInLanes(ForwardPath& path, const EvalState& state, LanePool& pool, size_t s, size_t end,
                       size_t lanes, double alpha, double beta, at::Tensor& loss_sum, at::Tensor& correct);

/// Runs a module's forward method (lanes share it).
class ModuleForward {
 public:
  /// Caches `module`'s forward method; the module must outlive the calls.
  void Use(torch::jit::Module& module) { method_.emplace(module.get_method("forward")); }
  at::Tensor operator()(const at::Tensor& x) const { return (*method_)({x}).toTensor(); }

 private:
  std::optional<torch::jit::Method> method_;
};

}  // namespace landscape::engine

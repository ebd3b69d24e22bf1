#include "path_selector.h"

namespace landscape::engine {

Selection SelectPath(EvalState& state, const EvalOptions& options) {
  Selecting s(state, options);
  s.choice.optimized = options.optimize;
  s.UseLibTorch();
  if (s.choice.optimized) s.PrepareLibTorch();  // finds out now whether the model can be frozen
  // The steps in their order: each sees the path the ones before it chose (a new path's step goes here).
  using Step = void (*)(Selecting&);
  static constexpr Step kSteps[] = {
      ChooseBatches,       // the batch size (auto: measured on LibTorch's path) and the batches
      DecideOptimization,  // frozen per point, or the module as loaded
      DecideOnednn,        // the engine's own oneDNN primitives
      DecideCudaGraphs,    // one fitted frozen graph (+ CUDA graphs)
      DecideFirstLayer,    // the cached first layer
      DecideDataParallel,  // lanes or intra-op threads, on the path chosen
  };
  for (Step step : kSteps) step(s);

  Selection out;
  s.choice.path = s.chosen().name();
  s.choice.first_layer_cached = s.kind == PathKind::kFirstLayer;
  s.choice.onednn = s.kind == PathKind::kOnednn;
  s.choice.constants_fitted = s.kind == PathKind::kFitted;
  s.choice.batch_size = state.batch_size;
  out.choice = std::move(s.choice);
  out.path = s.other ? std::move(s.other) : std::unique_ptr<ForwardPath>(std::move(s.libtorch));
  out.lanes = std::move(s.lanes);
  return out;
}

}  // namespace landscape::engine

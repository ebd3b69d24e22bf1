#include "forward_path.h"

#include <torch/csrc/jit/runtime/graph_executor.h>

namespace landscape::engine {

void BatchForwardPath::AccumulateBatches(size_t lane, size_t s, size_t first, size_t end, size_t stride,
                                         double /*alpha*/, double /*beta*/, at::Tensor& loss_sum,
                                         at::Tensor& correct) {
  const auto& batches = state_.batches[s];
  for (size_t b = first; b < end; b += stride) {
    const auto& [x, y] = batches[b];
    AccumulateBatch(Forward(x, lane), y, state_.loss, loss_sum, correct);
  }
}

void AccumulateInLanes(ForwardPath& path, const EvalState& state, LanePool& pool, size_t s, size_t end,
                       size_t lanes, double alpha, double beta, at::Tensor& loss_sum, at::Tensor& correct) {
  // One single-threaded lane per core, each on every lanes-th batch: no
  // synchronization between operators, no OpenMP waiting.
  const bool graph_optimize = torch::jit::getGraphExecutorOptimize();
  const auto acc_opts = at::TensorOptions().device(state.device);
  std::vector<at::Tensor> lane_loss(lanes), lane_correct(lanes);
  for (size_t l = 0; l < lanes; ++l) {
    lane_loss[l] = at::zeros({}, acc_opts.dtype(at::kDouble));
    lane_correct[l] = at::zeros({}, acc_opts.dtype(at::kLong));
  }
  pool.Run([&](size_t l) {
    torch::jit::GraphOptimizerEnabledGuard lane_optimizer(graph_optimize);
    c10::InferenceMode lane_guard;
    path.AccumulateBatches(l, s, l, end, lanes, alpha, beta, lane_loss[l], lane_correct[l]);
  });
  for (size_t l = 0; l < lanes; ++l) {
    loss_sum.add_(lane_loss[l]);
    correct.add_(lane_correct[l]);
  }
}

}  // namespace landscape::engine

#include "eval_state.h"

#include <ATen/ATen.h>
#include <torch/csrc/jit/runtime/graph_executor.h>

#include <algorithm>

namespace landscape::engine {

void EvalState::MakeBatches() {
  batches.clear();
  for (size_t i = 0; i < splits.size(); ++i) {
    std::vector<std::pair<at::Tensor, at::Tensor>> b;
    const int64_t n = splits[i].data.size();
    for (int64_t start = 0; start < n; start += batch_size) {
      const int64_t len = std::min(batch_size, n - start);
      b.emplace_back(inputs[i].narrow(0, start, len), splits[i].data.labels.narrow(0, start, len));
    }
    batches.push_back(std::move(b));
  }
}

int64_t EvalState::BatchCount() const {
  int64_t n = 0;
  for (const auto& b : batches) n += static_cast<int64_t>(b.size());
  return n;
}

void EvalState::RefreshReduced() {
  c10::InferenceMode guard;
  for (size_t i = 0; i < targets.size(); ++i) targets[i].copy_(sources[i]);
}

torch::jit::Module EvalState::FrozenPoint() {
  if (dtype == at::kFloat) return torch::jit::freeze(module);
  RefreshReduced();
  return torch::jit::freeze(reduced);
}

bool EvalState::GraphOptimize() const { return dtype == at::kFloat && torch::jit::getGraphExecutorOptimize(); }

void AccumulateBatch(const at::Tensor& out_any, const at::Tensor& y, core::Loss loss, at::Tensor& loss_sum,
                     at::Tensor& correct) {
  // Reduced-precision logits: the loss is computed in float32.
  const at::Tensor out = out_any.scalar_type() == at::kFloat ? out_any : out_any.to(at::kFloat);
  if (loss == core::Loss::kRegression) {
    // Per sample: the mean over the K outputs of (output - target)^2; targets [B] or [B, K].
    const int64_t k = out.numel() / std::max<int64_t>(1, out.size(0));
    loss_sum.add_((out - y.reshape(out.sizes())).pow_(2).sum().div_(static_cast<double>(k)));
    return;  // no accuracy
  }
  if (loss == core::Loss::kCrossEntropy) {
    loss_sum.add_(at::cross_entropy_loss(out, y, {}, at::Reduction::Sum));
  } else {
    // The reference: MSELoss(softmax(out), one_hot) averaged over batch x classes, times the batch.
    const int64_t classes = out.size(1);
    at::Tensor p = at::softmax(out, 1);
    at::Tensor target = at::one_hot(y, classes).to(p.scalar_type());
    loss_sum.add_((p - target).pow_(2).sum().div_(static_cast<double>(classes)));
  }
  correct.add_(out.argmax(1).eq(y).sum());
}

LanePool& LaneSlot::Get(size_t lanes, int threads) {
  if (!pool_ || pool_->size() != lanes) {
    pool_.reset();
    pool_ = std::make_unique<LanePool>(lanes, threads);
  }
  return *pool_;
}

}  // namespace landscape::engine
